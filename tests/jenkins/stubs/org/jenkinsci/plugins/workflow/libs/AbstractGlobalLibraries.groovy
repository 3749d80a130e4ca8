package org.jenkinsci.plugins.workflow.libs

import com.thoughtworks.xstream.XStream
import com.thoughtworks.xstream.io.xml.DomDriver
import com.thoughtworks.xstream.io.xml.XmlFriendlyNameCoder

/**
 * Stand-in for pipeline-groovy-lib's AbstractGlobalLibraries (a GlobalConfiguration): `libraries`, and
 * setLibraries(), which saves. Saved as Jenkins saves it: XStream writes the object's fields to
 * org.jenkinsci.plugins.workflow.libs.GlobalLibraries.xml (here the file named by the `standin.libraries` system
 * property, which the stand-in controller reads when a build loads a library), and load() reads it back.
 */
abstract class AbstractGlobalLibraries {

    private List<LibraryConfiguration> libraries = new ArrayList<LibraryConfiguration>()

    List<LibraryConfiguration> getLibraries() {
        return libraries
    }

    void setLibraries(List<LibraryConfiguration> libraries) {
        this.libraries = libraries
        save()
    }

    private static XStream xstream() {
        // The JDK's XML parser (no XPP3 on groovy's path); names coded as Jenkins' XStream2 codes them (`_` as is).
        XStream xstream = new XStream(new DomDriver('UTF-8', new XmlFriendlyNameCoder('_-', '_')))
        xstream.allowTypesByWildcard(['org.jenkinsci.plugins.**', 'jenkins.**', 'hudson.**'] as String[])
        return xstream
    }

    private static File stateFile() {
        return new File(System.getProperty('standin.libraries'))
    }

    protected void load() {
        File file = stateFile()
        if (file.exists()) {
            xstream().fromXML(file, this)
        }
    }

    protected void save() {
        stateFile().text = "<?xml version='1.1' encoding='UTF-8'?>\n" + xstream().toXML(this) + '\n'
    }

}
