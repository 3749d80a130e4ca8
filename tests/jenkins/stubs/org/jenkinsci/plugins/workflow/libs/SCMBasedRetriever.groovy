package org.jenkinsci.plugins.workflow.libs

/**
 * Stand-in for pipeline-groovy-lib's SCMBasedRetriever: `clone` (a fresh clone per build instead of a
 * checkout) and `libraryPath`, which setLibraryPath trims (empty = null) and ends with '/', as the plugin does.
 */
abstract class SCMBasedRetriever extends LibraryRetriever {

    private boolean clone
    private String libraryPath

    boolean isClone() {
        return clone
    }

    void setClone(boolean clone) {
        this.clone = clone
    }

    String getLibraryPath() {
        return libraryPath
    }

    void setLibraryPath(String value) {
        String trimmed = value?.trim() ?: null
        libraryPath = trimmed != null && !trimmed.endsWith('/') ? trimmed + '/' : trimmed
    }

}
