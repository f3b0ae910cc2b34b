/* gVisor compatibility (runsc 0.0~20221219, Debian 12): its statx() refuses the
 * AT_NO_AUTOMOUNT flag with EINVAL, and coreutils 9.1 (`ls -l`, `ls FILE`, `stat`) always
 * passes it. Preloaded only in gVisor sandboxes (LD_PRELOAD, see sandbox/container.py):
 * on exactly that refusal, ask again without the flag (there is no automounter in a
 * sandbox, so the answer is the same). Anything else is passed through unchanged. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *buf) {
    long r = syscall(SYS_statx, dirfd, path, flags, mask, buf);
    if (r == -1 && errno == EINVAL && (flags & AT_NO_AUTOMOUNT)) {
        r = syscall(SYS_statx, dirfd, path, flags & ~AT_NO_AUTOMOUNT, mask, buf);
    }
    return (int)r;
}
