package org.jenkinsci.plugins.workflow.libs

/**
 * Stand-in for pipeline-groovy-lib's LibraryConfiguration(name, retriever), its fields as the plugin's source
 * defines them (master, 5cc6888): defaultVersion (trimmed, empty = null), implicit (false),
 * allowVersionOverride (true), includeInChangesets (true), cachingConfiguration (null); plus allowBRANCH_NAME,
 * allowBRANCH_NAME_PR and traceBRANCH_NAME (false) of the plugin's JENKINS-69731 branch (a937477..bcba445), as a
 * controller running that build has them: fields ci-ecs has never heard of, which must survive it all the same.
 */
class LibraryConfiguration {

    private final String name
    private final LibraryRetriever retriever
    private String defaultVersion
    private boolean implicit
    private boolean allowVersionOverride = true
    private boolean allowBRANCH_NAME = false
    private boolean allowBRANCH_NAME_PR = false
    private boolean traceBRANCH_NAME = false
    private boolean includeInChangesets = true
    private LibraryCachingConfiguration cachingConfiguration = null

    LibraryConfiguration(String name, LibraryRetriever retriever) {
        this.name = name?.trim() ?: null
        this.retriever = retriever
    }

    String getName() {
        return name
    }

    LibraryRetriever getRetriever() {
        return retriever
    }

    String getDefaultVersion() {
        return defaultVersion
    }

    void setDefaultVersion(String value) {
        defaultVersion = value?.trim() ?: null
    }

    boolean isImplicit() {
        return implicit
    }

    void setImplicit(boolean implicit) {
        this.implicit = implicit
    }

    boolean isAllowVersionOverride() {
        return allowVersionOverride
    }

    void setAllowVersionOverride(boolean allowVersionOverride) {
        this.allowVersionOverride = allowVersionOverride
    }

    boolean getIncludeInChangesets() {
        return includeInChangesets
    }

    void setIncludeInChangesets(boolean includeInChangesets) {
        this.includeInChangesets = includeInChangesets
    }

    LibraryCachingConfiguration getCachingConfiguration() {
        return cachingConfiguration
    }

    void setCachingConfiguration(LibraryCachingConfiguration cachingConfiguration) {
        this.cachingConfiguration = cachingConfiguration
    }

}
