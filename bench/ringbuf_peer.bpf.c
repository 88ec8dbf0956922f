// SPDX-License-Identifier: GPL-2.0
/*
 * The BPF ring buffer peer of bench/bench_ring.c: on each KSHM_IOC_INFO
 * ioctl (a kprobe on the module's handler, so both systems are triggered by
 * the same system call), produce @batch records of @rec_len bytes whose
 * first 8 bytes are a sequence number, copied from a map value as
 * kshm's producer copies its payload.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define MAX_LEN 4096

struct payload {
	__u64 seq;
	__u8 rest[MAX_LEN - 8];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct payload);
} src SEC(".maps");

const volatile __u32 batch = 1;
const volatile __u32 rec_len = 8;
__u64 seq;
__u64 dropped;

SEC("kprobe/kshm_ioctl_info")
int produce(void *ctx)
{
	struct payload *p;
	__u32 k = 0, i;

	p = bpf_map_lookup_elem(&src, &k);
	if (!p)
		return 0;
	for (i = 0; i < 256; i++) {
		if (i >= batch)
			break;
		p->seq = seq++;
		if (bpf_ringbuf_output(&rb, p, rec_len, 0))
			dropped++;
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
