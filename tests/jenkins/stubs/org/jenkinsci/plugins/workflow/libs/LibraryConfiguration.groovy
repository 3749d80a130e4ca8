package org.jenkinsci.plugins.workflow.libs

import jenkins.plugins.git.GitSCMSource

/**
 * Stand-in for pipeline-groovy-lib's LibraryConfiguration(name, retriever): defaultVersion (trimmed, empty =
 * null), implicit (false), allowVersionOverride (true), includeInChangesets (true), as the plugin defaults them.
 */
class LibraryConfiguration {

    final String name
    final LibraryRetriever retriever
    private String defaultVersion
    boolean implicit = false
    boolean allowVersionOverride = true
    boolean includeInChangesets = true

    LibraryConfiguration(String name, LibraryRetriever retriever) {
        this.name = name
        this.retriever = retriever
    }

    String getDefaultVersion() {
        return defaultVersion
    }

    void setDefaultVersion(String value) {
        defaultVersion = value?.trim() ?: null
    }

    /** The stand-in controller's view of the library (what it needs to load it into a build). */
    Map toState() {
        SCMSourceRetriever scmRetriever = (SCMSourceRetriever) retriever
        return [name: name, defaultVersion: defaultVersion, implicit: implicit,
                allowVersionOverride: allowVersionOverride, includeInChangesets: includeInChangesets,
                remote: scmRetriever.scm.remote, credentialsId: scmRetriever.scm.credentialsId,
                libraryPath: scmRetriever.libraryPath]
    }

    static LibraryConfiguration fromState(Map state) {
        GitSCMSource source = new GitSCMSource((String) state.remote)
        source.credentialsId = (String) state.credentialsId
        SCMSourceRetriever scmRetriever = new SCMSourceRetriever(source)
        scmRetriever.libraryPath = (String) state.libraryPath
        LibraryConfiguration library = new LibraryConfiguration((String) state.name, scmRetriever)
        library.defaultVersion = (String) state.defaultVersion
        library.implicit = state.implicit
        library.allowVersionOverride = state.allowVersionOverride
        library.includeInChangesets = state.includeInChangesets
        return library
    }

}
