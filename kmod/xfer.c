// SPDX-License-Identifier: GPL-2.0
/*
 * What the kernel itself does with shared memory: fill a sequence, copy
 * (the METHOD_NEITHER path: copy_{from,to}_user in the caller's context),
 * and checksum from a workqueue.  Each acts on a target, a region or a
 * buffer, through the module's kernel mapping of it.
 */
#include <linux/completion.h>
#include <linux/overflow.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/bsearch.h>
#include <linux/mm.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>

#include "kshm.h"

/* Bytes handled between two chances to reschedule. */
#define KSHM_XFER_CHUNK	SZ_1M

/*
 * Take a reference on region or buffer @id of @kf.  A buffer must allow
 * @access (KSHM_BUF_KERNEL_*), else EACCES; regions allow everything.
 * Context: process (a buffer's first kernel user maps it).
 */
int kshm_target_get(struct kshm_file *kf, bool buf, u32 id, u32 access,
		    struct kshm_target *t)
{
	memset(t, 0, sizeof(*t));
	if (!buf) {
		t->region = kshm_region_get(kf, id);
		if (IS_ERR(t->region))
			return PTR_ERR(t->region);
		/* A ring's pages belong to its protocol alone. */
		if (t->region->ring) {
			kshm_region_unref(t->region);
			t->region = NULL;
			return -EINVAL;
		}
		t->kaddr = t->region->vaddr;
		t->length = t->region->length;
		return 0;
	}
	t->buf = kshm_buf_get(kf, id);
	if (IS_ERR(t->buf))
		return PTR_ERR(t->buf);
	if ((t->buf->access & access) != access) {
		kshm_buf_unref(t->buf);
		return -EACCES;
	}
	t->kaddr = kshm_buf_vaddr(t->buf);
	if (IS_ERR(t->kaddr)) {
		kshm_buf_unref(t->buf);
		return PTR_ERR(t->kaddr);
	}
	t->length = t->buf->length;
	return 0;
}

void kshm_target_put(struct kshm_target *t)
{
	if (t->region)
		kshm_region_unref(t->region);
	if (t->buf)
		kshm_buf_unref(t->buf);
}

/* Is [@offset, @offset + @len) a nonempty range inside @t? */
bool kshm_target_range_ok(const struct kshm_target *t, u64 offset, u64 len)
{
	return len && len <= t->length && offset <= t->length - len;
}

/* Write the sequence, stopping for a fatal signal.  Context: process. */
static int kshm_fill_sequence(void *dst, u32 width, u64 count, u64 v, u64 step)
{
	u64 i;

	for (i = 0; i < count; i++, v += step) {
		switch (width) {
		case 1:
			((u8 *)dst)[i] = v;
			break;
		case 2:
			((u16 *)dst)[i] = v;
			break;
		case 4:
			((u32 *)dst)[i] = v;
			break;
		default:
			((u64 *)dst)[i] = v;
			break;
		}
		if ((i & 0xffff) != 0xffff)
			continue;
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	return 0;
}

int kshm_ioctl_fill(struct kshm_file *kf, void *arg)
{
	struct kshm_fill *f = arg;
	struct kshm_target t;
	u64 bytes;
	int ret;

	if (f->width != 1 && f->width != 2 && f->width != 4 && f->width != 8)
		return -EINVAL;
	if (f->offset % f->width || check_mul_overflow(f->count, (u64)f->width, &bytes))
		return -EINVAL;
	ret = kshm_target_get(kf, f->flags & KSHM_TARGET_BUF, f->id,
			      KSHM_BUF_KERNEL_WRITE, &t);
	if (ret)
		return ret;
	if (kshm_target_range_ok(&t, f->offset, bytes))
		ret = kshm_fill_sequence(t.kaddr + f->offset, f->width, f->count,
					 f->start, f->step);
	else
		ret = -EINVAL;
	kshm_target_put(&t);
	return ret;
}

/*
 * One side of a copy, resolved: a user pointer, or a kernel address with
 * the pages under it (@pages, the side's first byte at byte @off of them).
 */
struct kshm_copy_side {
	struct kshm_target t;
	void __user *user;
	void *kaddr;
	struct page **pages;
	u64 off;
};

static int kshm_copy_side_get(struct kshm_file *kf, const struct kshm_copy_end *e,
			      u32 access, u64 len, struct kshm_copy_side *s)
{
	int ret;

	memset(s, 0, sizeof(*s));
	if (e->kind == KSHM_MEM_USER) {
		if (e->id)
			return -EINVAL;
		s->user = u64_to_user_ptr(e->addr);
		return 0;
	}
	if (e->kind != KSHM_MEM_REGION && e->kind != KSHM_MEM_BUF)
		return -EINVAL;
	ret = kshm_target_get(kf, e->kind == KSHM_MEM_BUF, e->id, access, &s->t);
	if (ret)
		return ret;
	/*
	 * A copy is the application writing: a region it may not write
	 * through its mappings it may not write this way either.
	 */
	if (s->t.region && (access & KSHM_BUF_KERNEL_WRITE) &&
	    (s->t.region->flags & KSHM_REGION_USER_RDONLY)) {
		kshm_target_put(&s->t);
		return -EACCES;
	}
	if (!kshm_target_range_ok(&s->t, e->addr, len)) {
		kshm_target_put(&s->t);
		return -EINVAL;
	}
	s->kaddr = s->t.kaddr + e->addr;
	if (s->t.region) {
		s->pages = s->t.region->pages;
		s->off = e->addr;
	} else {
		s->pages = s->t.buf->pages;
		s->off = offset_in_page(s->t.buf->addr) + e->addr;
	}
	return 0;
}

static int kshm_pfn_cmp(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

/*
 * The frame numbers of the pages under @len bytes of @s, in a new array;
 * user memory is looked up with a short reference (a range that is not all
 * mapped gives what is: the copy itself then says EFAULT).
 * Return: how many, or -ENOMEM.
 */
static long kshm_copy_side_pfns(struct kshm_copy_side *s, u64 len,
				unsigned long **pfnsp)
{
	u64 off = s->kaddr ? s->off : offset_in_page(s->user);
	unsigned long i, n = DIV_ROUND_UP(offset_in_page(off) + len, PAGE_SIZE);
	unsigned long *pfns = kvmalloc_array(n, sizeof(*pfns), GFP_KERNEL_ACCOUNT);
	struct page **pages;
	int got;

	if (!pfns)
		return -ENOMEM;
	*pfnsp = pfns;
	if (s->kaddr) {
		for (i = 0; i < n; i++)
			pfns[i] = page_to_pfn(s->pages[(off >> PAGE_SHIFT) + i]);
		return n;
	}
	pages = kvmalloc_array(n, sizeof(*pages), GFP_KERNEL_ACCOUNT);
	if (!pages)
		return -ENOMEM;
	got = get_user_pages_fast((unsigned long)s->user & PAGE_MASK, n, 0, pages);
	for (i = 0; got > 0 && i < got; i++) {
		pfns[i] = page_to_pfn(pages[i]);
		put_page(pages[i]);
	}
	kvfree(pages);
	return max(got, 0);
}

/*
 * Do the two sides share a page?  Two names of one page (a region's own
 * mapping registered as a buffer, or given as the user side) defeat
 * memmove(), which picks its direction from addresses that alias, and
 * copy_{to,from}_user(), which always go forward.  Not asked when both are
 * the same region: its pages are its own, each once, so the addresses tell
 * the truth.  One buffer may cover two mappings of the same pages (a memfd
 * mapped twice), so a buffer is asked even against itself.
 * Return: 1 if they do, 0 if not, or -ENOMEM.
 */
static int kshm_copy_aliased(struct kshm_copy_side *src, struct kshm_copy_side *dst,
			     u64 len)
{
	unsigned long *a = NULL, *b = NULL, i;
	long na, nb;
	int ret = 0;

	if (src->t.region && src->t.region == dst->t.region)
		return 0;
	na = kshm_copy_side_pfns(src, len, &a);
	nb = na < 0 ? na : kshm_copy_side_pfns(dst, len, &b);
	if (nb < 0) {
		ret = nb;
		goto out_free;
	}
	sort(a, na, sizeof(*a), kshm_pfn_cmp, NULL);
	for (i = 0; i < nb && !ret; i++)
		ret = !!bsearch(&b[i], a, na, sizeof(*a), kshm_pfn_cmp);
out_free:
	kvfree(b);
	kvfree(a);
	return ret;
}

/*
 * Copy chunk [@done, @done + @n) between two resolved sides.  Context:
 * process, the caller's own (its user pointers are the caller's).
 */
static int kshm_copy_chunk(struct kshm_copy_side *src, struct kshm_copy_side *dst,
			   u64 done, u64 n)
{
	if (src->kaddr && dst->kaddr)
		memmove(dst->kaddr + done, src->kaddr + done, n);
	else if (dst->kaddr && copy_from_user(dst->kaddr + done, src->user + done, n))
		return -EFAULT;
	else if (src->kaddr && copy_to_user(dst->user + done, src->kaddr + done, n))
		return -EFAULT;
	return 0;
}

/*
 * Copy @len bytes between two resolved sides, a chunk at a time, stopping
 * for a fatal signal.  When both are kernel addresses of one mapping and the
 * destination starts inside the source, the chunks go last to first, so no
 * chunk reads bytes an earlier one overwrote.
 */
static int kshm_copy_bytes(struct kshm_copy_side *src, struct kshm_copy_side *dst,
			   u64 len)
{
	bool backward = src->kaddr && dst->kaddr && dst->kaddr > src->kaddr &&
			dst->kaddr < src->kaddr + len;
	u64 done, n, i, chunks = DIV_ROUND_UP(len, KSHM_XFER_CHUNK);
	int ret;

	for (i = 0; i < chunks; i++) {
		done = (backward ? chunks - 1 - i : i) * KSHM_XFER_CHUNK;
		n = min_t(u64, len - done, KSHM_XFER_CHUNK);
		ret = kshm_copy_chunk(src, dst, done, n);
		if (ret)
			return ret;
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	return 0;
}

/*
 * Copy between two names of the same pages: through a kernel buffer of the
 * whole length, so every byte is read before any is written, as memmove()
 * would on one name.  Return: 0, -ENOMEM, -EFAULT or -EINTR.
 */
static int kshm_copy_bounced(struct kshm_copy_side *src, struct kshm_copy_side *dst,
			     u64 len)
{
	struct kshm_copy_side bounce = { };
	int ret;

	bounce.kaddr = kvmalloc(len, GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!bounce.kaddr)
		return -ENOMEM;
	ret = kshm_copy_bytes(src, &bounce, len);
	if (!ret)
		ret = kshm_copy_bytes(&bounce, dst, len);
	kvfree(bounce.kaddr);
	return ret;
}

int kshm_ioctl_copy(struct kshm_file *kf, void *arg)
{
	struct kshm_copy *c = arg;
	struct kshm_copy_side src, dst;
	int ret;

	if (!c->length ||
	    (c->src.kind == KSHM_MEM_USER && c->dst.kind == KSHM_MEM_USER))
		return -EINVAL;
	ret = kshm_copy_side_get(kf, &c->src, KSHM_BUF_KERNEL_READ, c->length, &src);
	if (ret)
		return ret;
	ret = kshm_copy_side_get(kf, &c->dst, KSHM_BUF_KERNEL_WRITE, c->length, &dst);
	if (ret)
		goto out_put_src;
	ret = kshm_copy_aliased(&src, &dst, c->length);
	if (ret > 0)
		ret = kshm_copy_bounced(&src, &dst, c->length);
	else if (!ret)
		ret = kshm_copy_bytes(&src, &dst, c->length);
	kshm_target_put(&dst.t);
out_put_src:
	kshm_target_put(&src.t);
	return ret;
}

/**
 * struct kshm_checksum_work - a checksum computed on a kernel worker
 * @work: queued on system_unbound_wq, waited for by the ioctl
 * @done: completed by the worker when @sum is final
 * @stop: set by an ioctl that a fatal signal interrupted; the worker stops
 *	at its next chunk
 * @data: first byte, in the kernel mapping
 * @length: bytes
 * @sum: the result
 */
struct kshm_checksum_work {
	struct work_struct work;
	struct completion done;
	bool stop;
	const u8 *data;
	u64 length;
	u64 sum;
};

/* Context: a kernel worker (process context, not the caller's). */
static void kshm_checksum_fn(struct work_struct *work)
{
	struct kshm_checksum_work *cw =
		container_of(work, struct kshm_checksum_work, work);
	u64 i, sum = 0xcbf29ce484222325ULL;	/* FNV-1a 64 offset basis */

	for (i = 0; i < cw->length; i++) {
		sum = (sum ^ cw->data[i]) * 0x100000001b3ULL;
		if ((i & (KSHM_XFER_CHUNK - 1)) != KSHM_XFER_CHUNK - 1)
			continue;
		if (READ_ONCE(cw->stop))
			break;
		cond_resched();
	}
	cw->sum = sum;
	complete(&cw->done);
}

/*
 * Sum on a worker while the caller waits, killably: a fatal signal stops
 * the worker at its next chunk (flush_work() then waits at most that long,
 * and must: @cw and the target's reference live on this stack).
 */
static int kshm_checksum_on_worker(struct kshm_checksum_work *cw)
{
	int ret;

	INIT_WORK_ONSTACK(&cw->work, kshm_checksum_fn);
	init_completion(&cw->done);
	cw->stop = false;
	queue_work(system_unbound_wq, &cw->work);
	ret = wait_for_completion_killable(&cw->done);
	if (ret)
		WRITE_ONCE(cw->stop, true);
	flush_work(&cw->work);
	destroy_work_on_stack(&cw->work);
	return ret ? -EINTR : 0;
}

int kshm_ioctl_checksum(struct kshm_file *kf, void *arg)
{
	struct kshm_checksum *c = arg;
	struct kshm_checksum_work cw;
	struct kshm_target t;
	int ret;

	if (c->__reserved)
		return -EINVAL;
	ret = kshm_target_get(kf, c->flags & KSHM_TARGET_BUF, c->id,
			      KSHM_BUF_KERNEL_READ, &t);
	if (ret)
		return ret;
	if (kshm_target_range_ok(&t, c->offset, c->length)) {
		cw.data = t.kaddr + c->offset;
		cw.length = c->length;
		ret = kshm_checksum_on_worker(&cw);
		if (!ret)
			c->sum = cw.sum;
	} else {
		ret = -EINVAL;
	}
	kshm_target_put(&t);
	return ret;
}
