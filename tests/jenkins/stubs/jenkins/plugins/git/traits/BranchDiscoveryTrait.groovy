package jenkins.plugins.git.traits

import jenkins.scm.api.trait.SCMSourceTrait

/** Stand-in for the Git plugin's BranchDiscoveryTrait (no fields). */
class BranchDiscoveryTrait extends SCMSourceTrait {
}
