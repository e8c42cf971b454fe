/* The echo appliance's cmdline, checked before anything runs (echo_args.c).
 * Freestanding: the unikernel and the Linux program (echo-appliance) share
 * it. */
#ifndef ECHO_ARGS_H
#define ECHO_ARGS_H

/* Checks every word of cmdline (the xl config's `cmdline`, or the Linux
 * program's arguments joined with spaces): each must be KEY=VALUE with a
 * key the appliance knows, given once, and a value of that key's kind.
 * Returns 0 when the cmdline is good; 1 after printing the usage (a word
 * --help, -h or help); -1 after printing what is wrong with the first bad
 * word and how to get the usage. Prints with guest_printf. */
int echo_args_check(const char *cmdline);

#endif
