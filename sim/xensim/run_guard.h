/* The guard of one `xensim run`: like a real domain, a run that ends ends
 * every process in it, even when the wrapper is killed with SIGKILL (which
 * it cannot catch).
 *
 * The command runs as the leader of a process group of its own (its
 * children stay in it unless they move themselves: setsid, or a shell's job
 * control); it dies with the wrapper through PR_SET_PDEATHSIG. The rest of
 * the group is ended by the wrapper itself when the command exits, or by a
 * guard process when the wrapper dies first: the guard (a fork of the
 * wrapper, not its child: it is forked twice so that the command stays the
 * wrapper's only child, which tests look up) holds the read end of a pipe
 * whose write end only the wrapper holds. End of file on it means the
 * wrapper is gone, however it died, and the guard kills the group. A byte
 * on it means the wrapper ended the group itself: the guard leaves quietly. */
#ifndef XSIM_RUN_GUARD_H
#define XSIM_RUN_GUARD_H

#include <sys/types.h>

/* Start the guard of process group `pgid` (the command's pid; it must
 * lead that group already, or be about to). Returns the write end of the
 * guard's pipe (close-on-exec: keep it open while the group lives), or
 * -errno if the guard could not be started. */
int xsim_guard_start(pid_t pgid);

/* The wrapper ended the group itself: tell the guard (fd from
 * xsim_guard_start) to exit without killing anything, and close fd. Call
 * it before reaping the command, whose zombie keeps the group's id from
 * being reused until then. */
void xsim_guard_stand_down(int fd);

#endif
