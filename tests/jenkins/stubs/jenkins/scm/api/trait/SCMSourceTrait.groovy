package jenkins.scm.api.trait

/** Stand-in for scm-api's SCMSourceTrait (a source's behaviours, config.xml `<traits>`). */
abstract class SCMSourceTrait {
}
