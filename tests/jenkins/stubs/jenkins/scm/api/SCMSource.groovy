package jenkins.scm.api

/** Stand-in for scm-api's SCMSource: its `id` (config.xml `<id>`); the owner is transient. */
abstract class SCMSource {

    private String id

    String getId() {
        return id
    }

    void setId(String id) {
        this.id = id
    }

}
