package hudson.plugins.git.extensions.impl

/**
 * Stand-in for the Git plugin's CloneOption(shallow, noTags, reference, timeout) with its `depth` (1) and
 * `honorRefspec` (false) setters: the clone options of a library's Git source.
 */
class CloneOption {

    private final boolean shallow
    private final boolean noTags
    private final String reference
    private final Integer timeout
    private int depth = 1
    private boolean honorRefspec = false

    CloneOption(boolean shallow, boolean noTags, String reference, Integer timeout) {
        this.shallow = shallow
        this.noTags = noTags
        this.reference = reference
        this.timeout = timeout
    }

    void setDepth(int depth) {
        this.depth = depth
    }

    void setHonorRefspec(boolean honorRefspec) {
        this.honorRefspec = honorRefspec
    }

}
