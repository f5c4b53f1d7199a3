/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* `connwatch --config FILE`: daemon mode, several targets, one endpoint. */
#ifndef CW_SUPERVISE_H
#define CW_SUPERVISE_H

int cmd_config(int argc, char **argv);

#endif
