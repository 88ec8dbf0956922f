// SPDX-License-Identifier: GPL-2.0
/*
 * kshm: the /dev/kshm misc device, its file operations and ioctl dispatch.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/file.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>

#include <uapi/linux/kshm_ring.h>

#include "kshm.h"

unsigned long kshm_max_region_size = 256UL << 20;
module_param_named(max_region_size, kshm_max_region_size, ulong, 0644);
MODULE_PARM_DESC(max_region_size, "Largest region one create may ask for, in bytes");

unsigned long kshm_max_file_size = 1UL << 30;
module_param_named(max_file_size, kshm_max_file_size, ulong, 0644);
MODULE_PARM_DESC(max_file_size, "Most bytes of regions one open file may hold");

unsigned long kshm_max_total_size = 2UL << 30;
module_param_named(max_total_size, kshm_max_total_size, ulong, 0644);
MODULE_PARM_DESC(max_total_size, "Most bytes of regions the module may hold");

unsigned long kshm_max_buf_size = 256UL << 20;
module_param_named(max_buf_size, kshm_max_buf_size, ulong, 0644);
MODULE_PARM_DESC(max_buf_size, "Largest buffer one registration may cover, in bytes");

/*
 * Each registration of a page adds GUP_PIN_COUNTING_BIAS (1024) to its
 * reference count, which overflows after 2^21 pins: with 2^20 registrations
 * in all, kshm alone cannot take a page past half of that.
 */
unsigned long kshm_max_bufs = 1UL << 20;
module_param_named(max_bufs, kshm_max_bufs, ulong, 0644);
MODULE_PARM_DESC(max_bufs, "Most registrations the module may hold, all files together");

bool kshm_test_engine;
module_param_named(test_engine, kshm_test_engine, bool, 0444);
MODULE_PARM_DESC(test_engine, "Allow KSHM_IOC_ENGINE_START (a kernel timer writing shared memory, for tests)");

struct workqueue_struct *kshm_wq;

static int kshm_ioctl_info(struct kshm_file *kf, void *arg)
{
	struct kshm_info *info = arg;

	info->abi_version = KSHM_ABI_VERSION;
	info->page_size = PAGE_SIZE;
	info->max_region_size = kshm_region_size_limit();
	info->max_file_size = READ_ONCE(kshm_max_file_size);
	info->max_total_size = READ_ONCE(kshm_max_total_size);
	info->regions_alive = atomic64_read(&kshm_regions_alive);
	info->pages_alive = atomic64_read(&kshm_pages_alive);
	info->max_buf_size = READ_ONCE(kshm_max_buf_size);
	info->bufs_alive = atomic64_read(&kshm_bufs_alive);
	info->buf_pages_pinned = atomic64_read(&kshm_buf_pages_pinned);
	info->pages_leaked = atomic64_read(&kshm_pages_leaked);
	return 0;
}

/**
 * struct kshm_ioctl_op - how to carry out one command
 * @cmd: the full ioctl number; any other with the same nr is ENOTTY
 * @size: sizeof the command's struct in this module
 * @min_size: the size of its first version; a smaller @size is EINVAL
 * @valid_flags: flags the command knows; any other bit is EINVAL
 * @fn: the handler, given a kernel copy of the struct that it may update
 *	for the caller
 * @writes: the command changes the file's state (creates, destroys, writes
 *	memory, sets the eventfd): only for an fd opened for writing, else
 *	EBADF, as write() would be
 * @out: the struct carries results back (every command with @undo does):
 *	it is proven writable before @fn runs and written back after; a
 *	command without results never writes the caller's memory
 * @undo: for a command that creates something (a region, a registration,
 *	a running engine): take back what @fn made, when its result cannot
 *	be written to the caller.  A call that fails leaves nothing behind.
 * @fn_fd: instead of @fn, for a command whose result is a new descriptor:
 *	it reserves the descriptor and makes the file (@nfd), which is
 *	installed only once the result has reached the caller (an installed
 *	descriptor cannot be taken back), else dropped
 */
struct kshm_ioctl_op {
	unsigned int cmd;
	unsigned int size;
	unsigned int min_size;
	u32 valid_flags;
	bool writes;
	bool out;
	int (*fn)(struct kshm_file *kf, void *arg);
	void (*undo)(struct kshm_file *kf, void *arg);
	int (*fn_fd)(struct kshm_file *kf, void *arg, struct kshm_new_fd *nfd);
};

#define KSHM_OP_INDEX(cmd)	(_IOC_NR(cmd) - KSHM_CMD_BASE)

static const struct kshm_ioctl_op kshm_ioctl_ops[] = {
	[KSHM_OP_INDEX(KSHM_IOC_INFO)] = {
		.cmd = KSHM_IOC_INFO,
		.out = true,
		.size = sizeof(struct kshm_info),
		.min_size = offsetofend(struct kshm_info, buf_pages_pinned),
		.fn = kshm_ioctl_info,
	},
	[KSHM_OP_INDEX(KSHM_IOC_REGION_CREATE)] = {
		.cmd = KSHM_IOC_REGION_CREATE,
		.out = true,
		.size = sizeof(struct kshm_region_create),
		.min_size = offsetofend(struct kshm_region_create, mmap_offset),
		.valid_flags = KSHM_REGION_USER_RDONLY | KSHM_REGION_NODE,
		.writes = true,
		.fn = kshm_ioctl_region_create,
		.undo = kshm_undo_region_create,
	},
	[KSHM_OP_INDEX(KSHM_IOC_REGION_DESTROY)] = {
		.cmd = KSHM_IOC_REGION_DESTROY,
		.size = sizeof(struct kshm_region_destroy),
		.min_size = offsetofend(struct kshm_region_destroy, __reserved),
		.writes = true,
		.fn = kshm_ioctl_region_destroy,
	},
	[KSHM_OP_INDEX(KSHM_IOC_REGION_INFO)] = {
		.cmd = KSHM_IOC_REGION_INFO,
		.out = true,
		.size = sizeof(struct kshm_region_info),
		.min_size = offsetofend(struct kshm_region_info, mappings),
		.valid_flags = KSHM_REGION_INFO_NEXT,
		.fn = kshm_ioctl_region_info,
	},
	[KSHM_OP_INDEX(KSHM_IOC_BUF_REGISTER)] = {
		.cmd = KSHM_IOC_BUF_REGISTER,
		.out = true,
		.size = sizeof(struct kshm_buf_register),
		.min_size = offsetofend(struct kshm_buf_register, length),
		.valid_flags = KSHM_BUF_KERNEL_READ | KSHM_BUF_KERNEL_WRITE,
		.writes = true,
		.fn = kshm_ioctl_buf_register,
		.undo = kshm_undo_buf_register,
	},
	[KSHM_OP_INDEX(KSHM_IOC_BUF_UNREGISTER)] = {
		.cmd = KSHM_IOC_BUF_UNREGISTER,
		.size = sizeof(struct kshm_buf_unregister),
		.min_size = offsetofend(struct kshm_buf_unregister, __reserved),
		.writes = true,
		.fn = kshm_ioctl_buf_unregister,
	},
	[KSHM_OP_INDEX(KSHM_IOC_BUF_INFO)] = {
		.cmd = KSHM_IOC_BUF_INFO,
		.out = true,
		.size = sizeof(struct kshm_buf_info),
		.min_size = offsetofend(struct kshm_buf_info, pages),
		.fn = kshm_ioctl_buf_info,
	},
	[KSHM_OP_INDEX(KSHM_IOC_SET_EVENTFD)] = {
		.cmd = KSHM_IOC_SET_EVENTFD,
		.size = sizeof(struct kshm_set_eventfd),
		.min_size = offsetofend(struct kshm_set_eventfd, __reserved),
		.writes = true,
		.fn = kshm_ioctl_set_eventfd,
	},
	[KSHM_OP_INDEX(KSHM_IOC_FILL)] = {
		.cmd = KSHM_IOC_FILL,
		.size = sizeof(struct kshm_fill),
		.min_size = offsetofend(struct kshm_fill, step),
		.valid_flags = KSHM_TARGET_BUF,
		.writes = true,
		.fn = kshm_ioctl_fill,
	},
	[KSHM_OP_INDEX(KSHM_IOC_COPY)] = {
		.cmd = KSHM_IOC_COPY,
		.size = sizeof(struct kshm_copy),
		.min_size = offsetofend(struct kshm_copy, length),
		.writes = true,
		.fn = kshm_ioctl_copy,
	},
	[KSHM_OP_INDEX(KSHM_IOC_CHECKSUM)] = {
		.cmd = KSHM_IOC_CHECKSUM,
		.out = true,
		.size = sizeof(struct kshm_checksum),
		.min_size = offsetofend(struct kshm_checksum, sum),
		.valid_flags = KSHM_TARGET_BUF,
		.fn = kshm_ioctl_checksum,
	},
	[KSHM_OP_INDEX(KSHM_IOC_ENGINE_START)] = {
		.cmd = KSHM_IOC_ENGINE_START,
		.out = true,
		.size = sizeof(struct kshm_engine_start),
		.min_size = offsetofend(struct kshm_engine_start, max_ticks),
		.valid_flags = KSHM_TARGET_BUF | KSHM_TARGET_RING,
		.writes = true,
		.fn = kshm_ioctl_engine_start,
		.undo = kshm_undo_engine_start,
	},
	[KSHM_OP_INDEX(KSHM_IOC_ENGINE_STOP)] = {
		.cmd = KSHM_IOC_ENGINE_STOP,
		.out = true,
		.size = sizeof(struct kshm_engine_stop),
		.min_size = offsetofend(struct kshm_engine_stop, ticks),
		.writes = true,
		.fn = kshm_ioctl_engine_stop,
	},
	[KSHM_OP_INDEX(KSHM_IOC_RING_CREATE)] = {
		.cmd = KSHM_IOC_RING_CREATE,
		.out = true,
		.size = sizeof(struct kshm_ring_create),
		.min_size = offsetofend(struct kshm_ring_create, data_off),
		.valid_flags = KSHM_RING_BLOCK,
		.writes = true,
		.fn = kshm_ioctl_ring_create,
		.undo = kshm_undo_ring_create,
	},
	[KSHM_OP_INDEX(KSHM_IOC_RING_PRODUCE)] = {
		.cmd = KSHM_IOC_RING_PRODUCE,
		.out = true,
		.size = sizeof(struct kshm_ring_produce),
		.min_size = offsetofend(struct kshm_ring_produce, produced),
		.valid_flags = KSHM_RING_PRODUCE_WAIT,
		.writes = true,
		.fn = kshm_ioctl_ring_produce,
	},
	[KSHM_OP_INDEX(KSHM_IOC_RING_WAIT)] = {
		.cmd = KSHM_IOC_RING_WAIT,
		.size = sizeof(struct kshm_ring_wait),
		.min_size = offsetofend(struct kshm_ring_wait, timeout_ns),
		.fn = kshm_ioctl_ring_wait,
	},
	[KSHM_OP_INDEX(KSHM_IOC_RING_DOORBELL)] = {
		.cmd = KSHM_IOC_RING_DOORBELL,
		.size = sizeof(struct kshm_ring_doorbell),
		.min_size = offsetofend(struct kshm_ring_doorbell, __reserved),
		.writes = true,
		.fn = kshm_ioctl_ring_doorbell,
	},
	[KSHM_OP_INDEX(KSHM_IOC_RING_SET_EVENTFD)] = {
		.cmd = KSHM_IOC_RING_SET_EVENTFD,
		.size = sizeof(struct kshm_ring_set_eventfd),
		.min_size = offsetofend(struct kshm_ring_set_eventfd, fd),
		.writes = true,
		.fn = kshm_ioctl_ring_set_eventfd,
	},
	[KSHM_OP_INDEX(KSHM_IOC_RING_STATS)] = {
		.cmd = KSHM_IOC_RING_STATS,
		.out = true,
		.size = sizeof(struct kshm_ring_stats),
		.min_size = offsetofend(struct kshm_ring_stats, hash),
		.fn = kshm_ioctl_ring_stats,
	},
	[KSHM_OP_INDEX(KSHM_IOC_RING_READ)] = {
		.cmd = KSHM_IOC_RING_READ,
		.out = true,
		.size = sizeof(struct kshm_ring_read),
		.min_size = offsetofend(struct kshm_ring_read, records),
		.writes = true,
		.fn = kshm_ioctl_ring_read,
	},
	[KSHM_OP_INDEX(KSHM_IOC_REGION_EXPORT)] = {
		.cmd = KSHM_IOC_REGION_EXPORT,
		.out = true,
		.size = sizeof(struct kshm_region_export),
		.min_size = offsetofend(struct kshm_region_export, fd),
		.valid_flags = KSHM_REGION_EXPORT_CLOEXEC | KSHM_REGION_EXPORT_RDWR,
		.writes = true,
		.fn_fd = kshm_ioctl_region_export,
	},
};

/*
 * Big enough for the struct of every command.  Each begins with __u32 size
 * and __u32 flags (the uapi header's rule), which @hdr reads.
 */
union kshm_ioctl_buf {
	struct {
		u32 size;
		u32 flags;
	} hdr;
	struct kshm_info info;
	struct kshm_region_create create;
	struct kshm_region_destroy destroy;
	struct kshm_region_info region_info;
	struct kshm_buf_register buf_register;
	struct kshm_buf_unregister buf_unregister;
	struct kshm_buf_info buf_info;
	struct kshm_set_eventfd set_eventfd;
	struct kshm_fill fill;
	struct kshm_copy copy;
	struct kshm_checksum checksum;
	struct kshm_engine_start engine_start;
	struct kshm_engine_stop engine_stop;
	struct kshm_ring_create ring_create;
	struct kshm_ring_produce ring_produce;
	struct kshm_ring_wait ring_wait;
	struct kshm_ring_doorbell ring_doorbell;
	struct kshm_ring_set_eventfd ring_set_eventfd;
	struct kshm_ring_stats ring_stats;
	struct kshm_ring_read ring_read;
	struct kshm_region_export region_export;
};

static const struct kshm_ioctl_op *kshm_ioctl_op_find(unsigned int cmd)
{
	unsigned int nr = _IOC_NR(cmd);
	const struct kshm_ioctl_op *op;

	if (_IOC_TYPE(cmd) != KSHM_IOCTL_TYPE || nr < KSHM_CMD_BASE ||
	    nr - KSHM_CMD_BASE >= ARRAY_SIZE(kshm_ioctl_ops))
		return NULL;
	op = &kshm_ioctl_ops[nr - KSHM_CMD_BASE];
	/* A hole in the table has cmd 0, which no caller can pass with our type. */
	return op->cmd == cmd ? op : NULL;
}

/*
 * Write the struct back to a caller that gets results.  First prove it
 * writable (it still holds the caller's own bytes), so the usual bad
 * pointer fails before anything happens; @undo covers a mapping made
 * read-only by another thread in between, and a new descriptor is
 * installed only after the last write.
 */
static int kshm_ioctl_run(struct kshm_file *kf, const struct kshm_ioctl_op *op,
			  void __user *uarg, union kshm_ioctl_buf *buf, u32 usize)
{
	u32 len = min_t(u32, usize, op->size);
	struct kshm_new_fd nfd = { .fd = -1 };
	int ret;

	if (op->out && copy_to_user(uarg, buf, len))
		return -EFAULT;
	ret = op->fn_fd ? op->fn_fd(kf, buf, &nfd) : op->fn(kf, buf);
	if (ret || !op->out)
		return ret;
	if (copy_to_user(uarg, buf, len) ||
	    ((op->undo || op->fn_fd) && kshm_plant_result_fault())) {
		if (op->undo)
			op->undo(kf, buf);
		if (nfd.file) {
			put_unused_fd(nfd.fd);
			fput(nfd.file);
		}
		return -EFAULT;
	}
	if (nfd.file)
		fd_install(nfd.fd, nfd.file);
	return 0;
}

/* Context: process, from the ioctl system call. */
static long kshm_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct kshm_file *kf = file->private_data;
	void __user *uarg = (void __user *)arg;
	const struct kshm_ioctl_op *op;
	union kshm_ioctl_buf buf;
	u32 usize;
	int ret;

	op = kshm_ioctl_op_find(cmd);
	if (!op)
		return -ENOTTY;
	if (op->writes && !(file->f_mode & FMODE_WRITE))
		return -EBADF;
	if (get_user(usize, (u32 __user *)uarg))
		return -EFAULT;
	if (usize < op->min_size)
		return -EINVAL;
	if (usize > PAGE_SIZE)
		return -E2BIG;
	/* Copies the caller's struct; a nonzero tail we do not know is E2BIG. */
	ret = copy_struct_from_user(&buf, op->size, uarg, usize);
	if (ret)
		return ret;
	if (buf.hdr.flags & ~op->valid_flags)
		return -EINVAL;
	return kshm_ioctl_run(kf, op, uarg, &buf, usize);
}

static int kshm_open(struct inode *inode, struct file *file)
{
	struct kshm_file *kf;

	kf = kzalloc(sizeof(*kf), GFP_KERNEL_ACCOUNT);
	if (!kf)
		return -ENOMEM;
	kref_init(&kf->ref);
	xa_init_flags(&kf->regions, XA_FLAGS_ALLOC1);
	atomic64_set(&kf->bytes, 0);
	xa_init_flags(&kf->bufs, XA_FLAGS_ALLOC1);
	mutex_init(&kf->buf_lock);
	kf->buf_tree = RB_ROOT;
	mutex_init(&kf->engine_lock);
	kshm_file_init_events(kf);
	file->private_data = kf;
	return 0;
}

static void kshm_file_free(struct kref *ref)
{
	struct kshm_file *kf = container_of(ref, struct kshm_file, ref);

	kshm_file_free_events(kf);
	mutex_destroy(&kf->engine_lock);
	mutex_destroy(&kf->buf_lock);
	kfree(kf);
}

void kshm_file_put(struct kshm_file *kf)
{
	kref_put(&kf->ref, kshm_file_free);
}

/*
 * Like process exit on Windows cancelling pending IRPs: stop the engine,
 * release every buffer and region handle.  Buffers still finishing hold
 * the kshm_file until their release work has run.
 */
static int kshm_release(struct inode *inode, struct file *file)
{
	struct kshm_file *kf = file->private_data;

	kshm_engine_release(kf);
	kshm_file_release_bufs(kf);
	kshm_file_release_regions(kf);
	kshm_file_put(kf);
	return 0;
}

static ssize_t kshm_read(struct file *file, char __user *ubuf, size_t len,
			 loff_t *ppos)
{
	return kshm_events_read(file->private_data, ubuf, len,
				file->f_flags & O_NONBLOCK);
}

static __poll_t kshm_poll(struct file *file, struct poll_table_struct *wait)
{
	return kshm_events_poll(file->private_data, file, wait);
}

static int kshm_mmap(struct file *file, struct vm_area_struct *vma)
{
	return kshm_file_mmap(file->private_data, vma);
}

static const struct file_operations kshm_fops;

/**
 * kshm_file_from_fd - the kshm file behind a descriptor of the caller's
 * @fd: the descriptor
 *
 * Context: process.
 * Return: the file, with a reference (kshm_file_put()); ERR_PTR(-EBADF)
 * for no such descriptor, -EINVAL for one that is not /dev/kshm.
 */
struct kshm_file *kshm_file_from_fd(int fd)
{
	struct file *file = fget(fd);
	struct kshm_file *kf;

	if (!file)
		return ERR_PTR(-EBADF);
	if (file->f_op != &kshm_fops) {
		fput(file);
		return ERR_PTR(-EINVAL);
	}
	kf = file->private_data;
	kref_get(&kf->ref);
	fput(file);
	return kf;
}

static const struct file_operations kshm_fops = {
	.owner = THIS_MODULE,
	.open = kshm_open,
	.release = kshm_release,
	.mmap = kshm_mmap,
	.read = kshm_read,
	.poll = kshm_poll,
	.unlocked_ioctl = kshm_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice kshm_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = KSHM_DEVICE_NAME,
	.fops = &kshm_fops,
};

static int __init kshm_init(void)
{
	int ret;

	kshm_ring_init_module();
	kshm_wq = alloc_workqueue("kshm", WQ_UNBOUND, 0);
	if (!kshm_wq)
		return -ENOMEM;
	ret = misc_register(&kshm_misc);
	if (ret) {
		pr_err("cannot register /dev/%s: %d\n", KSHM_DEVICE_NAME, ret);
		goto out_destroy_wq;
	}
	pr_info("ABI %d ready\n", KSHM_ABI_VERSION);
	kshm_plant_bug();
	return 0;

out_destroy_wq:
	destroy_workqueue(kshm_wq);
	return ret;
}

static void __exit kshm_exit(void)
{
	misc_deregister(&kshm_misc);
	/* Buffer releases queued by the last close finish before we go. */
	destroy_workqueue(kshm_wq);
	kshm_handles_exit();
}

module_init(kshm_init);
module_exit(kshm_exit);

MODULE_DESCRIPTION("Memory shared between drivers and applications");
MODULE_LICENSE("GPL");
