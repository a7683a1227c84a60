// SPDX-License-Identifier: GPL-2.0
/*
 * probefuzz validate: the initramfs's /init for an arm64 QEMU boot.
 *
 * Prints what the kernel decided about IOMMU groups and driver binding, one
 * record per line through /dev/kmsg (so the lines are serialised with the
 * kernel's own messages on the console), then powers the machine off:
 *
 *   probefuzz: iommu_group <N> <device>     one per member of each group
 *   probefuzz: device <bus> <device> <driver or ->
 *   probefuzz: done
 *
 * Built with -nostdlib -static: raw aarch64 system calls, no libc, so it
 * needs nothing but gcc-aarch64-linux-gnu (fuzz/validate/initramfs.py).
 */

typedef unsigned long u64;
typedef long s64;

#define AT_FDCWD		-100
#define O_RDONLY		0
#define O_WRONLY		1
#define O_DIRECTORY		040000	/* arm64 value */
#define __NR_mkdirat		34
#define __NR_mount		40
#define __NR_openat		56
#define __NR_close		57
#define __NR_getdents64		61
#define __NR_write		64
#define __NR_readlinkat		78
#define __NR_sync		81
#define __NR_reboot		142
#define LINUX_REBOOT_MAGIC1	0xfee1dead
#define LINUX_REBOOT_MAGIC2	672274793
#define LINUX_REBOOT_CMD_POWER_OFF 0x4321fedc

static s64 sys6(s64 nr, s64 a, s64 b, s64 c, s64 d, s64 e)
{
	register s64 x8 __asm__("x8") = nr;
	register s64 x0 __asm__("x0") = a;
	register s64 x1 __asm__("x1") = b;
	register s64 x2 __asm__("x2") = c;
	register s64 x3 __asm__("x3") = d;
	register s64 x4 __asm__("x4") = e;

	__asm__ volatile("svc #0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4)
			 : "memory", "cc");
	return x0;
}

struct linux_dirent64 {
	u64 d_ino;
	s64 d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static int out = -1;
static char line[512];
static unsigned int len;

static void put(const char *s)
{
	while (*s && len < sizeof(line) - 1)
		line[len++] = *s++;
}

static void flush(void)
{
	line[len++] = '\n';
	if (out >= 0)
		sys6(__NR_write, out, (s64)line, len, 0, 0);
	len = 0;
}

static void emit(const char *a, const char *b, const char *c, const char *d)
{
	put("probefuzz: ");
	put(a);
	if (b) {
		put(" ");
		put(b);
	}
	if (c) {
		put(" ");
		put(c);
	}
	if (d) {
		put(" ");
		put(d);
	}
	flush();
}

static int is_dot(const char *n)
{
	return n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0));
}

static char path[512];
static unsigned int plen;

static void path_set(const char *a, const char *b, const char *c)
{
	plen = 0;
	for (const char *s = a; s && *s && plen < sizeof(path) - 1; s++)
		path[plen++] = *s;
	for (const char *s = b; s && *s && plen < sizeof(path) - 1; s++)
		path[plen++] = *s;
	for (const char *s = c; s && *s && plen < sizeof(path) - 1; s++)
		path[plen++] = *s;
	path[plen] = 0;
}

/* Call fn(name, arg) for each entry of directory dir. */
static void for_each_entry(const char *dir, void (*fn)(const char *, const char *),
			   const char *arg)
{
	static char bufs[2][4096];
	static int depth;
	char *buf = bufs[depth];
	s64 fd = sys6(__NR_openat, AT_FDCWD, (s64)dir, O_RDONLY | O_DIRECTORY, 0, 0);

	if (fd < 0)
		return;
	depth++;
	for (;;) {
		s64 n = sys6(__NR_getdents64, fd, (s64)buf, sizeof(bufs[0]), 0, 0);

		if (n <= 0)
			break;
		for (s64 off = 0; off < n;) {
			struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);

			if (!is_dot(d->d_name))
				fn(d->d_name, arg);
			off += d->d_reclen;
		}
	}
	depth--;
	sys6(__NR_close, fd, 0, 0, 0, 0);
}

static void group_member(const char *dev, const char *group)
{
	emit("iommu_group", group, dev, 0);
}

static char groupdir[256];

static void group(const char *name, const char *unused)
{
	unsigned int i = 0;

	(void)unused;
	path_set("/sys/kernel/iommu_groups/", name, "/devices");
	for (; i < plen && i < sizeof(groupdir) - 1; i++)
		groupdir[i] = path[i];
	groupdir[i] = 0;
	for_each_entry(groupdir, group_member, name);
}

static void device(const char *name, const char *bus)
{
	static char link[256];
	const char *drv = "-";
	s64 n;

	path_set("/sys/bus/", bus, "/devices/");
	path_set(path, name, "/driver");
	n = sys6(__NR_readlinkat, AT_FDCWD, (s64)path, (s64)link, sizeof(link) - 1, 0);
	if (n > 0) {
		link[n] = 0;
		drv = link;
		for (s64 i = 0; i < n; i++)
			if (link[i] == '/')
				drv = link + i + 1;
	}
	emit("device", bus, name, drv);
}

static void bus_devices(const char *bus)
{
	static char dir[128];
	unsigned int i;

	path_set("/sys/bus/", bus, "/devices");
	for (i = 0; i < plen && i < sizeof(dir) - 1; i++)
		dir[i] = path[i];
	dir[i] = 0;
	for_each_entry(dir, device, bus);
}

void __attribute__((noreturn)) _start(void)
{
	sys6(__NR_mkdirat, AT_FDCWD, (s64)"/dev", 0755, 0, 0);
	sys6(__NR_mkdirat, AT_FDCWD, (s64)"/sys", 0755, 0, 0);
	sys6(__NR_mount, (s64)"devtmpfs", (s64)"/dev", (s64)"devtmpfs", 0, 0);
	sys6(__NR_mount, (s64)"sysfs", (s64)"/sys", (s64)"sysfs", 0, 0);
	out = sys6(__NR_openat, AT_FDCWD, (s64)"/dev/kmsg", O_WRONLY, 0, 0);
	if (out < 0)
		out = sys6(__NR_openat, AT_FDCWD, (s64)"/dev/console", O_WRONLY, 0, 0);
	for_each_entry("/sys/kernel/iommu_groups", group, 0);
	bus_devices("pci");
	bus_devices("platform");
	bus_devices("amba");
	emit("done", 0, 0, 0);
	sys6(__NR_sync, 0, 0, 0, 0, 0);
	sys6(__NR_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2,
	     LINUX_REBOOT_CMD_POWER_OFF, 0, 0);
	for (;;)
		;
}
