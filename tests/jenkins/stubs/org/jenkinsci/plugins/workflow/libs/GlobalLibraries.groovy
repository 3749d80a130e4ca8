package org.jenkinsci.plugins.workflow.libs

import groovy.json.JsonOutput
import groovy.json.JsonSlurperClassic

/**
 * Stand-in for pipeline-groovy-lib's GlobalLibraries (a GlobalConfiguration): get(), getLibraries() and
 * setLibraries(), which saves. Its state is the JSON file named by the `standin.libraries` system property,
 * which the stand-in controller reads when a build loads a library.
 */
class GlobalLibraries {

    private List<LibraryConfiguration> libraries = []

    static GlobalLibraries get() {
        GlobalLibraries globalLibraries = new GlobalLibraries()
        globalLibraries.load()
        return globalLibraries
    }

    List<LibraryConfiguration> getLibraries() {
        return libraries
    }

    void setLibraries(List<LibraryConfiguration> libraries) {
        this.libraries = libraries
        save()
    }

    private static File stateFile() {
        return new File(System.getProperty('standin.libraries'))
    }

    private void load() {
        File file = stateFile()
        if (file.exists()) {
            libraries = ((List) new JsonSlurperClassic().parse(file)).collect { Map entry ->
                LibraryConfiguration.fromState(entry)
            }
        }
    }

    private void save() {
        stateFile().text = JsonOutput.toJson(libraries.collect { LibraryConfiguration library -> library.toState() })
    }

}
