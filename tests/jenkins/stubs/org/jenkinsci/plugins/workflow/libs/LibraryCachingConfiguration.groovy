package org.jenkinsci.plugins.workflow.libs

/**
 * Stand-in for pipeline-groovy-lib's LibraryCachingConfiguration(int refreshTimeMinutes, String
 * excludedVersionsStr) with its includedVersionsStr setter (trimmed, empty = null).
 */
final class LibraryCachingConfiguration {

    private final int refreshTimeMinutes
    private final String excludedVersionsStr
    private String includedVersionsStr

    LibraryCachingConfiguration(int refreshTimeMinutes, String excludedVersionsStr) {
        this.refreshTimeMinutes = refreshTimeMinutes
        this.excludedVersionsStr = excludedVersionsStr
    }

    void setIncludedVersionsStr(String includedVersionsStr) {
        this.includedVersionsStr = includedVersionsStr?.trim() ?: null
    }

}
