/*
 * The subcommands of the rtbridge program
 *
 * Each lives in its own file, bridge/app/cmd_<name>.c, parses its own
 * options and returns the process exit status: 0 on success, 1 on a
 * runtime failure (one clear line on stderr already printed), 2 on bad
 * usage. Context: control (main) thread.
 */
#ifndef RTB_CMDS_H
#define RTB_CMDS_H

int cmd_devices(int argc, char **argv);
int cmd_play(int argc, char **argv);
int cmd_send(int argc, char **argv);
int cmd_sdp(int argc, char **argv);
int cmd_recv(int argc, char **argv);
int cmd_list(int argc, char **argv);

#endif
