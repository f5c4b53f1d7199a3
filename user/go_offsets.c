// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Go runtime field offsets: DWARF first (libdw), then a table checked
 * against the Go sources of each version range (amd64).
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "elf_symbols.h"
#include "go_offsets.h"

struct field_desc {
	const char *type;	/* DWARF name of the struct */
	const char *member;
	int64_t member_adjust;	/* the counter is inside the member */
	int min_minor, max_minor;	/* go1.MIN .. go1.MAX in the table */
	int64_t table_offset;
};

static const struct field_desc fields[] = {
	/* qcount, dataqsiz uint; buf pointer; elemsize uint16; closed uint32 */
	[GO_HCHAN_CLOSED] = { "runtime.hchan", "closed", 0, 19, 25, 28 },
	/*
	 * 1.18-1.19: state1 uint64 at +0; 1.20+: state atomic.Uint64 at +0.
	 * The counter is its high 32 bits: +4 on little-endian amd64.
	 */
	[GO_WAITGROUP_COUNTER] = { "sync.WaitGroup", NULL, 4, 18, 25, 4 },
	/*
	 * The way from net/http's *conn to its socket fd (go-net-http's
	 * hijack probe), the same from 1.16 to 1.25: conn{server, cancelCtx,
	 * rwc net.Conn}; itab{inter, _type, hash uint32, _ [4]byte, fun}
	 * (internal/abi.ITab from 1.22: no DWARF name match, the table);
	 * tls.Conn{conn net.Conn}; net.conn{fd *netFD}; netFD{pfd poll.FD};
	 * poll.FD{fdmu fdMutex (16 bytes), Sysfd int}.
	 */
	[GO_HTTP_CONN_RWC] = { "net/http.conn", "rwc", 0, 16, 25, 16 },
	[GO_ITAB_FUN] = { "runtime.itab", "fun", 0, 16, 25, 24 },
	[GO_TLS_CONN_CONN] = { "crypto/tls.Conn", "conn", 0, 16, 25, 0 },
	[GO_NET_CONN_FD] = { "net.conn", "fd", 0, 16, 25, 0 },
	[GO_NETFD_PFD] = { "net.netFD", "pfd", 0, 16, 25, 0 },
	[GO_POLL_FD_SYSFD] = { "internal/poll.FD", "Sysfd", 0, 16, 25, 16 },
};

static int go_minor(const char *version)
{
	int major, minor;

	if (sscanf(version, "go%d.%d", &major, &minor) != 2 || major != 1)
		return -1;
	return minor;
}

/* The member's data_member_location in the struct named type. */
static int dwarf_member(Dwarf *dw, const char *type, const char *member,
			int64_t *offset)
{
	Dwarf_Off off = 0, next;
	size_t hsize;

	while (!dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL)) {
		Dwarf_Die cu, die, child;

		if (!dwarf_offdie(dw, off + hsize, &cu) ||
		    dwarf_child(&cu, &die)) {
			off = next;
			continue;
		}
		do {
			const char *name = dwarf_diename(&die);
			Dwarf_Attribute at;
			Dwarf_Word loc;

			if (dwarf_tag(&die) != DW_TAG_structure_type || !name ||
			    strcmp(name, type))
				continue;
			if (!member) {
				*offset = 0;
				return 0;
			}
			if (dwarf_child(&die, &child))
				return -1;
			do {
				name = dwarf_diename(&child);
				if (name && !strcmp(name, member) &&
				    dwarf_attr(&child, DW_AT_data_member_location, &at) &&
				    !dwarf_formudata(&at, &loc)) {
					*offset = (int64_t)loc;
					return 0;
				}
			} while (!dwarf_siblingof(&child, &child));
			return -1;
		} while (!dwarf_siblingof(&die, &die));
		off = next;
	}
	return -1;
}

static int from_dwarf(const char *path, const struct field_desc *f,
		      int64_t *offset)
{
	char err[256];
	int fd = binary_open(path, NULL, err, sizeof(err)), ret = -1;
	Dwarf *dw;

	if (fd < 0)
		return -1;
	dw = dwarf_begin(fd, DWARF_C_READ);
	if (dw) {
		ret = dwarf_member(dw, f->type, f->member, offset);
		dwarf_end(dw);
	}
	close(fd);
	if (!ret)
		*offset += f->member_adjust;
	return ret;
}

int go_field_offset(const char *path, const char *go_version,
		    enum go_field field, int64_t *offset, const char **source,
		    char *err, size_t errlen)
{
	const struct field_desc *f = &fields[field];
	int minor = go_minor(go_version);

	if (!from_dwarf(path, f, offset)) {
		*source = "DWARF";
		return 0;
	}
	if (minor >= f->min_minor && minor <= f->max_minor) {
		*offset = f->table_offset;
		*source = "table";
		return 0;
	}
	snprintf(err, errlen, "%s%s%s: no DWARF and no known offset for %s "
		 "in %s (known for go1.%d..go1.%d)", f->type,
		 f->member ? "." : "", f->member ? f->member : "", f->type,
		 go_version[0] ? go_version : "an unknown Go version",
		 f->min_minor, f->max_minor);
	return -1;
}
