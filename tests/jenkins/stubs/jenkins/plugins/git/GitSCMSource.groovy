package jenkins.plugins.git

/** Stand-in for the Git plugin's GitSCMSource(String remote) with its credentialsId setter. */
class GitSCMSource {

    final String remote
    String credentialsId

    GitSCMSource(String remote) {
        this.remote = remote
    }

}
