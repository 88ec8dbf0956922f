// SPDX-License-Identifier: GPL-2.0
/*
 * Bugs planted on purpose, to prove that the test gate sees them.  Built only
 * with KSHM_TEST_PLANT=N (tests/host/run.sh does, into its own directory);
 * the shipped module never contains this file.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "kshm.h"

static u8 *kshm_plant_ptr;

/* Plant 4: how many result copies of creating commands are still to fail. */
static int kshm_plant_faults;
module_param_named(plant_result_faults, kshm_plant_faults, int, 0600);
MODULE_PARM_DESC(plant_result_faults, "Test build only: fail this many result copies");
static int kshm_plant_publish_faults;
module_param_named(plant_publish_faults, kshm_plant_publish_faults, int, 0600);
MODULE_PARM_DESC(plant_publish_faults, "Test build only: fail this many buffer publications");
static int kshm_plant_wb_faults;
module_param_named(plant_wb_faults, kshm_plant_wb_faults, int, 0600);
MODULE_PARM_DESC(plant_wb_faults, "Test build only: fail this many returns to write-back");
static unsigned int kshm_plant_publish_delay_ms;
module_param_named(plant_publish_delay_ms, kshm_plant_publish_delay_ms, uint, 0600);
MODULE_PARM_DESC(plant_publish_delay_ms,
		 "Test build only: sleep this long between publishing an id and returning it");
static int kshm_plant_vmap_faults;
module_param_named(plant_vmap_faults, kshm_plant_vmap_faults, int, 0600);
MODULE_PARM_DESC(plant_vmap_faults, "Test build only: fail this many buffers' first kernel mappings");
static unsigned int kshm_plant_first_use_delay_ms;
module_param_named(plant_first_use_delay_ms, kshm_plant_first_use_delay_ms, uint, 0600);
MODULE_PARM_DESC(plant_first_use_delay_ms,
		 "Test build only: sleep this long after making a buffer's kernel mapping");
static int kshm_plant_first_use_windows;
module_param_named(plant_first_use_windows, kshm_plant_first_use_windows, int, 0400);
MODULE_PARM_DESC(plant_first_use_windows, "Test build only: first-use windows that have ended");
static DEFINE_SPINLOCK(kshm_plant_lock);
static DEFINE_MUTEX(kshm_plant_mutex);

/*
 * kshm_plant_bug - commit planted bug KSHM_TEST_PLANT at module load
 *
 * 1: read a freed object (KASAN); 2: lose the only pointer to an object
 * (kmemleak); 3: take a mutex under a spinlock (DEBUG_ATOMIC_SLEEP: it
 * might sleep, though uncontended it does not, so a stock kernel is silent);
 * 4: nothing at load, but the fault injection and delay below.
 * Context: process (module init).
 */
void kshm_plant_bug(void)
{
	pr_warn("planting bug %d for the gate's own test\n", KSHM_TEST_PLANT);
	switch (KSHM_TEST_PLANT) {
	case 1:
		kshm_plant_ptr = kmalloc(64, GFP_KERNEL);
		kfree(kshm_plant_ptr);
		pr_info("planted read: %u\n", READ_ONCE(kshm_plant_ptr[8]));
		break;
	case 2:
		/* Not zeros: kmemleak must see a real object's contents. */
		WRITE_ONCE(kshm_plant_ptr, kmalloc(128, GFP_KERNEL));
		if (kshm_plant_ptr)
			memset(kshm_plant_ptr, 0xa5, 128);
		WRITE_ONCE(kshm_plant_ptr, NULL);
		break;
	case 3:
		spin_lock(&kshm_plant_lock);
		mutex_lock(&kshm_plant_mutex);
		mutex_unlock(&kshm_plant_mutex);
		spin_unlock(&kshm_plant_lock);
		break;
	}
}

/* Protects the fault counts against concurrent takers. */
static DEFINE_SPINLOCK(kshm_plant_take_lock);

/* Take one armed fault from @count, with plant 4 only.  Context: any. */
static bool kshm_plant_take(int *count)
{
	unsigned long flags;
	bool taken = false;

	if (KSHM_TEST_PLANT != 4)
		return false;
	spin_lock_irqsave(&kshm_plant_take_lock, flags);
	if (*count > 0) {
		(*count)--;
		taken = true;
	}
	spin_unlock_irqrestore(&kshm_plant_take_lock, flags);
	return taken;
}

/*
 * kshm_plant_result_fault - should the result copy of a creating command fail?
 *
 * With plant 4, true as many times as the plant_result_faults parameter
 * says: the test of the undo paths (tests/guest/undo.c) arms it.  Context:
 * process; the test drives one call at a time.
 */
bool kshm_plant_result_fault(void)
{
	return kshm_plant_take(&kshm_plant_faults);
}

/*
 * kshm_plant_publish_fault - should a buffer's xa_alloc() fail after it chose
 * an id?  With plant 4, as many times as plant_publish_faults says: it
 * shows that no release event goes out for an id never handed out.
 * Context: process, under the file's buf_lock.
 */
bool kshm_plant_publish_fault(void)
{
	return kshm_plant_take(&kshm_plant_publish_faults);
}

/*
 * kshm_plant_wb_fault - should setting region pages back to write-back fail?
 * With plant 4, as many times as plant_wb_faults says; the caller then skips
 * set_pages_array_wb(), so the pages really keep their WC/UC memtype.
 * Context: process.
 */
bool kshm_plant_wb_fault(void)
{
	return kshm_plant_take(&kshm_plant_wb_faults);
}

/*
 * kshm_plant_publish_window - widen the window between publishing an id and
 * handing it back, by plant_publish_delay_ms: a destroy or unregister of the
 * predictable id lands in it (tests/guest/undo.c), and the sanitizer kernel
 * reports any touch of the freed object after it.  With plant 4 only.
 * Context: process, no locks held.
 */
void kshm_plant_publish_window(void)
{
	unsigned int ms = READ_ONCE(kshm_plant_publish_delay_ms);

	if (KSHM_TEST_PLANT == 4 && ms)
		msleep(ms);
}

/*
 * kshm_plant_vmap_fault - should a buffer's first kernel mapping fail as if
 * vmalloc space had run out?  With plant 4, as many times as
 * plant_vmap_faults says.  Context: process.
 */
bool kshm_plant_vmap_fault(void)
{
	return kshm_plant_take(&kshm_plant_vmap_faults);
}

/*
 * kshm_plant_first_use_window - hold a buffer's first mapping in the making
 * (its map_lock held) for plant_first_use_delay_ms, so that a second first
 * user certainly races it (tests/guest/undo.c), then count the window in
 * plant_first_use_windows.  With plant 4 only.
 * Context: process.
 */
void kshm_plant_first_use_window(void)
{
	unsigned int ms = READ_ONCE(kshm_plant_first_use_delay_ms);

	if (KSHM_TEST_PLANT == 4 && ms) {
		msleep(ms);
		WRITE_ONCE(kshm_plant_first_use_windows,
			   kshm_plant_first_use_windows + 1);
	}
}
