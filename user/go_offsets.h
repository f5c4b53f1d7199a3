/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Where the Go runtime keeps the fields connwatch reads. */
#ifndef CW_GO_OFFSETS_H
#define CW_GO_OFFSETS_H

#include <stddef.h>
#include <stdint.h>

enum go_field {
	GO_HCHAN_CLOSED,	/* runtime.hchan.closed (uint32) */
	GO_WAITGROUP_COUNTER,	/* sync.WaitGroup counter (int32) */
	GO_HTTP_CONN_RWC,	/* net/http.conn.rwc (net.Conn) */
	GO_ITAB_FUN,		/* runtime.itab.fun: its first method */
	GO_TLS_CONN_CONN,	/* crypto/tls.Conn.conn (net.Conn) */
	GO_NET_CONN_FD,		/* net.conn.fd (*netFD) */
	GO_NETFD_PFD,		/* net.netFD.pfd (poll.FD) */
	GO_POLL_FD_SYSFD,	/* internal/poll.FD.Sysfd (int) */
	GO_FIELD__COUNT,
};

/*
 * The field's byte offset: from the binary's DWARF when it has it, else
 * from the table connwatch ships, keyed by Go version ("go1.19.8").
 * Never a guess: -1 with err set when neither knows. *source says which.
 */
int go_field_offset(const char *path, const char *go_version,
		    enum go_field field, int64_t *offset, const char **source,
		    char *err, size_t errlen);

#endif
