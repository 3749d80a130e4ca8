package org.jenkinsci.plugins.workflow.libs

/** Stand-in for pipeline-groovy-lib's GlobalLibraries: get() is the one instance, loaded from its XML file. */
class GlobalLibraries extends AbstractGlobalLibraries {

    static GlobalLibraries get() {
        GlobalLibraries globalLibraries = new GlobalLibraries()
        globalLibraries.load()
        return globalLibraries
    }

}
