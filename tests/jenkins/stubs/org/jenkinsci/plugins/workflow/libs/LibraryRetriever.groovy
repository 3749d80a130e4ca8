package org.jenkinsci.plugins.workflow.libs

/** Stand-in for pipeline-groovy-lib's LibraryRetriever (how a library's code is fetched). */
abstract class LibraryRetriever {
}
