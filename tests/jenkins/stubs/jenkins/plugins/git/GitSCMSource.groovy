package jenkins.plugins.git

import jenkins.scm.api.SCMSource
import jenkins.scm.api.trait.SCMSourceTrait

/**
 * Stand-in for the Git plugin's GitSCMSource(String remote) (through AbstractGitSCMSource): `remote` is a
 * constructor argument, `credentialsId` and `traits` (branch discovery, clone options, ...) have setters.
 */
class GitSCMSource extends SCMSource {

    private final String remote
    private String credentialsId
    private List<SCMSourceTrait> traits = new ArrayList<SCMSourceTrait>()

    GitSCMSource(String remote) {
        this.remote = remote
    }

    String getRemote() {
        return remote
    }

    String getCredentialsId() {
        return credentialsId
    }

    void setCredentialsId(String credentialsId) {
        this.credentialsId = credentialsId
    }

    List<SCMSourceTrait> getTraits() {
        return Collections.unmodifiableList(traits)
    }

    void setTraits(List<SCMSourceTrait> traits) {
        this.traits = new ArrayList<SCMSourceTrait>(traits ?: [])
    }

}
