// SPDX-License-Identifier: GPL-2.0
/*
 * lastgasp_crashtest: makes the kernel crash in a chosen way, for lastgasp's real-kernel lab.
 *
 * Write a crash kind to /sys/module/lastgasp_crashtest/parameters/crash, e.g.
 *   echo null > /sys/module/lastgasp_crashtest/parameters/crash
 * Kinds: null pagefault gpf bug divzero warn panic softlockup rcustall hung oom
 *        stackprotector stackoverflow listcorrupt; "usercopy" arms /proc/lastgasp_usercopy,
 *        whose read copies past the end of a slab object.
 * Every crash goes through a few named functions of this module so that call traces have
 * stable, recognisable frames.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/list.h>
#include <linux/sched.h>
#include <linux/delay.h>
#include <linux/preempt.h>
#include <linux/proc_fs.h>
#include <linux/uaccess.h>
#include <linux/gfp.h>
#include <linux/mm.h>

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("lastgasp crash-test module: real crashes on demand");

static noinline void lastgasp_null_write(void)
{
	int *volatile ptr = NULL;

	*(ptr + 4) = 1;
}

static noinline void lastgasp_bad_address_write(void)
{
	/* Canonical, kernel half, never mapped: a paging request fault. */
	unsigned long *volatile ptr = (unsigned long *)0xffffc90000000000UL + 0x7ff0000UL;

	*ptr = 0xdead;
}

static noinline void lastgasp_noncanonical_read(void)
{
	unsigned long *volatile ptr = (unsigned long *)0xdead000000000000UL;

	pr_info("lastgasp_crashtest: read %lx\n", *ptr);
}

static noinline void lastgasp_call_bug(void)
{
	BUG();
}

static noinline void lastgasp_divide(void)
{
	volatile int numerator = 42;
	volatile int denominator = 0;

	pr_info("lastgasp_crashtest: quotient %d\n", numerator / denominator);
}

static noinline void lastgasp_call_warn(void)
{
	WARN(1, "lastgasp_crashtest: deliberate warning\n");
}

static noinline void lastgasp_call_panic(void)
{
	panic("lastgasp_crashtest: deliberate panic");
}

static noinline void lastgasp_spin(unsigned int seconds)
{
	unsigned long end = jiffies + seconds * HZ;

	preempt_disable();
	while (time_before(jiffies, end))
		cpu_relax();
	preempt_enable();
}

static noinline void lastgasp_sleep_uninterruptible(void)
{
	set_current_state(TASK_UNINTERRUPTIBLE);
	schedule_timeout(3600 * HZ);
}

static noinline void lastgasp_eat_memory(void)
{
	/* Order-0 GFP_KERNEL allocations never fail before the OOM killer ran. */
	for (;;) {
		struct page *page = alloc_page(GFP_KERNEL | __GFP_NOWARN);

		if (!page)
			break;
	}
}

/* Defined in kernel/panic.c and exported, but declared in no header. */
extern void __stack_chk_fail(void);

static noinline void lastgasp_smash_canary(void)
{
	__stack_chk_fail();
}

static noinline int lastgasp_recurse(int depth)
{
	volatile char frame[512];

	frame[0] = (char)depth;
	frame[511] = frame[0];
	/* A bound far beyond any kernel stack keeps the compiler from calling this infinite. */
	if (depth > (1 << 20))
		return frame[511];
	return lastgasp_recurse(depth + 1) + frame[511];
}

static LIST_HEAD(lastgasp_decoy);

static noinline void lastgasp_corrupt_list(void)
{
	LIST_HEAD(head);
	struct list_head *entry = kmalloc(sizeof(*entry), GFP_KERNEL);

	if (!entry)
		return;
	list_add(entry, &head);
	/* A readable neighbour that does not point back: CONFIG_DEBUG_LIST reports the corruption. */
	entry->prev = &lastgasp_decoy;
	list_del(entry);
	kfree(entry);
}

static ssize_t lastgasp_usercopy_read(struct file *file, char __user *buf,
				      size_t count, loff_t *pos)
{
	/* A size the compiler cannot see, so FORTIFY_SOURCE leaves the check to hardened usercopy. */
	volatile size_t object_size = 32;
	char *object = kmalloc(object_size, GFP_KERNEL);
	size_t len = min_t(size_t, count, 1024);

	if (!object)
		return -ENOMEM;
	if (copy_to_user(buf, object, len))
		len = 0;
	kfree(object);
	return len;
}

static const struct proc_ops lastgasp_usercopy_ops = {
	.proc_read = lastgasp_usercopy_read,
};

static struct proc_dir_entry *usercopy_entry;

static noinline int lastgasp_crash(const char *kind)
{
	if (sysfs_streq(kind, "null"))
		lastgasp_null_write();
	else if (sysfs_streq(kind, "pagefault"))
		lastgasp_bad_address_write();
	else if (sysfs_streq(kind, "gpf"))
		lastgasp_noncanonical_read();
	else if (sysfs_streq(kind, "bug"))
		lastgasp_call_bug();
	else if (sysfs_streq(kind, "divzero"))
		lastgasp_divide();
	else if (sysfs_streq(kind, "warn"))
		lastgasp_call_warn();
	else if (sysfs_streq(kind, "panic"))
		lastgasp_call_panic();
	else if (sysfs_streq(kind, "softlockup") || sysfs_streq(kind, "rcustall"))
		lastgasp_spin(120);
	else if (sysfs_streq(kind, "hung"))
		lastgasp_sleep_uninterruptible();
	else if (sysfs_streq(kind, "oom"))
		lastgasp_eat_memory();
	else if (sysfs_streq(kind, "stackprotector"))
		lastgasp_smash_canary();
	else if (sysfs_streq(kind, "stackoverflow"))
		return lastgasp_recurse(0);
	else if (sysfs_streq(kind, "listcorrupt"))
		lastgasp_corrupt_list();
	else if (sysfs_streq(kind, "usercopy"))
		usercopy_entry = proc_create("lastgasp_usercopy", 0444, NULL,
					     &lastgasp_usercopy_ops);
	else
		return -EINVAL;
	return 0;
}

static int lastgasp_crash_set(const char *val, const struct kernel_param *kp)
{
	return lastgasp_crash(val);
}

static const struct kernel_param_ops lastgasp_crash_ops = {
	.set = lastgasp_crash_set,
};

module_param_cb(crash, &lastgasp_crash_ops, NULL, 0200);
MODULE_PARM_DESC(crash, "crash kind to trigger now (write-only)");

static void __exit lastgasp_crashtest_exit(void)
{
	if (usercopy_entry)
		proc_remove(usercopy_entry);
}

static int __init lastgasp_crashtest_init(void)
{
	return 0;
}

module_init(lastgasp_crashtest_init);
module_exit(lastgasp_crashtest_exit);
