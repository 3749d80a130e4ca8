package org.jenkinsci.plugins.workflow.libs

import jenkins.plugins.git.GitSCMSource

/**
 * Stand-in for pipeline-groovy-lib's SCMSourceRetriever(SCMSource): getScm(), and SCMBasedRetriever's
 * libraryPath, which setLibraryPath trims (empty = null) and ends with '/', as the plugin does.
 */
class SCMSourceRetriever extends LibraryRetriever {

    final GitSCMSource scm
    private String libraryPath

    SCMSourceRetriever(GitSCMSource scm) {
        this.scm = scm
    }

    String getLibraryPath() {
        return libraryPath
    }

    void setLibraryPath(String value) {
        String trimmed = value?.trim() ?: null
        libraryPath = trimmed != null && !trimmed.endsWith('/') ? trimmed + '/' : trimmed
    }

}
