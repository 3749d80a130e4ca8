package jenkins.plugins.git.traits

import hudson.plugins.git.extensions.impl.CloneOption
import jenkins.scm.api.trait.SCMSourceTrait

/** Stand-in for the Git plugin's CloneOptionTrait(CloneOption) (GitSCMExtensionTrait's final `extension`). */
class CloneOptionTrait extends SCMSourceTrait {

    private final CloneOption extension

    CloneOptionTrait(CloneOption extension) {
        this.extension = extension
    }

    CloneOption getExtension() {
        return extension
    }

}
