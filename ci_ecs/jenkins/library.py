"""The global pipeline library `ci-ecs`, set through Jenkins' script console (POST /scriptText).

Jenkins has no REST endpoint for "Global Trusted Pipeline Libraries"; the script console runs Groovy on the
controller (Overall/Administer). The script compares the library's repository, version, credentials and
library path with what is wanted and changes the definition only when one differs, so it is idempotent; it
prints one line, `ci-ecs-library=created|updated|unchanged`, that ci-ecs checks (the console answers HTTP 200
even when a script fails). Values reach the script as base64 JSON: nothing is pasted into Groovy code.

The API it uses: pipeline-groovy-lib's GlobalLibraries.get()/getLibraries()/setLibraries() (setLibraries
saves), LibraryConfiguration(name, retriever) with defaultVersion, SCMSourceRetriever(scm) with libraryPath
(SCMBasedRetriever, normalised to end in '/'), and the Git plugin's GitSCMSource(remote) with credentialsId.
Only those four fields are ci-ecs's: an existing library keeps every other field (implicit, allowVersionOverride,
includeInChangesets, cachingConfiguration, the retriever's clone, the source's traits such as clone options, and
fields of plugin versions ci-ecs does not know), set on the same objects, or copied field by field when a new
repository needs new objects (their constructors take the remote and the retriever).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass

from ci_ecs.jenkins import LIBRARY_NAME, LIBRARY_PATH

LIBRARY_LINE = re.compile(r"^ci-ecs-library=(created|updated|unchanged)\s*$", re.MULTILINE)

_SCRIPT = """\
// Sent by `ci-ecs jenkins setup`: make the global pipeline library point at a repository and version.
import groovy.json.JsonSlurperClassic
import java.lang.reflect.Field
import java.lang.reflect.Modifier
import jenkins.plugins.git.GitSCMSource
import org.jenkinsci.plugins.workflow.libs.GlobalLibraries
import org.jenkinsci.plugins.workflow.libs.LibraryConfiguration
import org.jenkinsci.plugins.workflow.libs.SCMSourceRetriever

// Every field of `from` that `to` has (declared by a class of `to` that `from` is also an instance of), except
// constructor arguments (final) and what is not saved (static, transient): what ci-ecs does not manage, including
// fields of plugin versions it has never seen.
void copyFields(Object from, Object to) {
    for (Class type = to.getClass(); type != null && type != Object; type = type.superclass) {
        if (!type.isInstance(from)) {
            continue
        }
        for (Field field : type.declaredFields) {
            int modifiers = field.modifiers
            if (!(Modifier.isStatic(modifiers) || Modifier.isFinal(modifiers) || Modifier.isTransient(modifiers)
                  || field.synthetic)) {
                field.accessible = true
                field.set(to, field.get(from))
            }
        }
    }
}

Map wanted = (Map) new JsonSlurperClassic().parseText(new String('%(payload)s'.decodeBase64(), 'UTF-8'))
GlobalLibraries globalLibraries = GlobalLibraries.get()
List<LibraryConfiguration> libraries = new ArrayList<LibraryConfiguration>(globalLibraries.libraries)
int index = libraries.findIndexOf { LibraryConfiguration library -> library.name == wanted.name }
Map desired = [remote: wanted.remote, credentialsId: wanted.credentialsId ?: null,
               defaultVersion: wanted.version, libraryPath: wanted.libraryPath]
LibraryConfiguration existing = index >= 0 ? libraries[index] : null
def retriever = existing?.retriever
def scm = retriever instanceof SCMSourceRetriever ? retriever.scm : null
String action = 'created'
if (existing != null) {
    Map current = [remote: scm instanceof GitSCMSource ? scm.remote : null,
                   credentialsId: scm instanceof GitSCMSource ? (scm.credentialsId ?: null) : null,
                   defaultVersion: existing.defaultVersion,
                   libraryPath: retriever instanceof SCMSourceRetriever ? retriever.libraryPath : null]
    action = current == desired ? 'unchanged' : 'updated'
}
if (wanted.apply && action != 'unchanged') {
    if (scm instanceof GitSCMSource && scm.remote == wanted.remote) {
        // The same repository: the managed fields change on the objects Jenkins has, so every other field of
        // the library, its retriever and its source (caching, clone, traits, ...) stays as it is.
        scm.credentialsId = (String) desired.credentialsId
        retriever.libraryPath = (String) wanted.libraryPath
        existing.defaultVersion = (String) wanted.version
    } else {
        // Another repository: GitSCMSource's remote, the retriever's source and the library's retriever are
        // constructor arguments, so these are new objects, with every other field copied from the old ones.
        GitSCMSource source = new GitSCMSource((String) wanted.remote)
        if (scm != null) {
            copyFields(scm, source)
        }
        source.credentialsId = (String) desired.credentialsId
        SCMSourceRetriever newRetriever = new SCMSourceRetriever(source)
        if (retriever != null) {
            copyFields(retriever, newRetriever)
        }
        newRetriever.libraryPath = (String) wanted.libraryPath
        LibraryConfiguration library = new LibraryConfiguration((String) wanted.name, newRetriever)
        if (existing != null) {
            copyFields(existing, library)
        }
        library.defaultVersion = (String) wanted.version
        if (index >= 0) {
            libraries[index] = library
        } else {
            libraries << library
        }
    }
    globalLibraries.libraries = libraries  // saves
}
println "ci-ecs-library=${action}"
"""


@dataclass(frozen=True)
class LibrarySpec:
    """The library definition ci-ecs wants in Jenkins."""

    remote: str
    version: str
    credentials_id: str | None = None
    name: str = LIBRARY_NAME
    library_path: str = LIBRARY_PATH


def library_script(spec: LibrarySpec, *, apply: bool) -> str:
    """The script-console script for `spec`; with apply=False it only reports what it would do."""
    payload = {"name": spec.name, "remote": spec.remote, "version": spec.version,
               "credentialsId": spec.credentials_id, "libraryPath": spec.library_path, "apply": apply}
    encoded = base64.b64encode(json.dumps(payload, sort_keys=True).encode("utf-8")).decode("ascii")
    return _SCRIPT % {"payload": encoded}


def parse_library_output(text: str) -> str | None:
    """`created`/`updated`/`unchanged` from the script's output, or None when the script did not finish."""
    match = LIBRARY_LINE.search(text or "")
    return match.group(1) if match else None
