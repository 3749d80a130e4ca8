package org.jenkinsci.plugins.workflow.libs

import jenkins.scm.api.SCMSource

/** Stand-in for pipeline-groovy-lib's SCMSourceRetriever(SCMSource scm): the source is a constructor argument. */
class SCMSourceRetriever extends SCMBasedRetriever {

    private final SCMSource scm

    SCMSourceRetriever(SCMSource scm) {
        this.scm = scm
    }

    SCMSource getScm() {
        return scm
    }

}
