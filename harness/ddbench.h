/*
 * ddbench.h - what the ddbench front end's files share (internal to harness/).
 */
#ifndef DDX_DDBENCH_H
#define DDX_DDBENCH_H

#define DDB_EXIT_USAGE 2 /* bad invocation: nothing was run */

/* Print "ddbench: MESSAGE" on stderr and exit with code. */
void ddb_die(int code, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));

/* Subcommands; argv[0] is the subcommand's name. They return the exit status. */
int ddbench_sweep(int argc, char **argv);

#endif
