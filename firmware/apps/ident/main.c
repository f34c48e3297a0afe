/* stagebox-ident: print the Stagebox core's identity registers on the LiteX console.
 *
 * Runs on the single-chip variant's VexRiscv after LiteX's BIOS has handed over (from main RAM
 * in the SoC simulation, in place from SPI flash on a board). Every register is reached through
 * the generated header stagebox_regs.h at the core's fixed base STAGEBOX_BASE (LiteX's
 * generated/mem.h names the bus region "stagebox"). Each line starts with "stagebox-ident:" and
 * holds values in a fixed format, so a test can compare them with the design's configuration;
 * checks print OK or MISMATCH. Besides the IDENT block it checks the scratch register, the
 * uptime snapshot, and that a software-raised core interrupt reaches the CPU on
 * STAGEBOX_CORE_INTERRUPT. The last line is IDENT_END, after which the program ends the
 * simulation when the SoC has the sim_finisher CSR (soc/sim.py), and idles otherwise.
 */

#include <stdint.h>
#include <stdio.h>

/* soc.h before mem.h: a SoC that also exports STAGEBOX_BASE as a constant defines it in soc.h,
 * and mem.h only defines what is still undefined. */
#include <generated/soc.h>
#include <generated/mem.h>
#include <generated/csr.h>
#include <irq.h>
#include <libbase/uart.h>

#include "stagebox_regs.h"

#ifndef STAGEBOX_BASE
#error "the SoC has no bus region named stagebox (generated/mem.h defines STAGEBOX_BASE)"
#endif

#define IDENT_END "stagebox-ident: done"

/* Scratch patterns: all ones, all zeros and both alternating bit patterns catch stuck and
 * bridged data lines. */
static const uint32_t scratch_patterns[] = {0xFFFFFFFFu, 0x00000000u, 0xA5A5A5A5u, 0x5A5A5A5Au};

static volatile uint32_t core_irq_count;
static volatile uint32_t core_irq_pending;

static inline uint32_t sb_read(uint32_t offset)
{
	return *(volatile uint32_t *)(uintptr_t)(STAGEBOX_BASE + offset);
}

static inline void sb_write(uint32_t offset, uint32_t value)
{
	*(volatile uint32_t *)(uintptr_t)(STAGEBOX_BASE + offset) = value;
}

static const char *verdict(int ok)
{
	return ok ? "OK" : "MISMATCH";
}

static const char *phy_name(uint32_t type)
{
	static const char *const names[] = {"none", "mii", "rmii", "gmii", "rgmii"};
	return type < sizeof(names) / sizeof(names[0]) ? names[type] : "unknown";
}

static uint64_t read_uptime(void)
{
	/* The low word latches the whole 64-bit counter: read it first. */
	uint32_t low = sb_read(SB_IDENT_UPTIME_ADDR);
	uint32_t high = sb_read(SB_IDENT_UPTIME_ADDR + 4);
	return ((uint64_t)high << 32) | low;
}

static void print_identity(void)
{
	uint32_t magic = sb_read(SB_IDENT_MAGIC_ADDR);
	uint32_t version = sb_read(SB_IDENT_VERSION_ADDR);
	uint32_t flags = sb_read(SB_IDENT_BUILD_FLAGS_ADDR);
	uint32_t phy = sb_read(SB_IDENT_PHY_ADDR);
	uint32_t streams = sb_read(SB_IDENT_STREAMS_ADDR);
	uint32_t hash = sb_read(SB_IDENT_REGMAP_HASH_ADDR);

	printf("stagebox-ident: base 0x%08lx\n", (unsigned long)STAGEBOX_BASE);
	printf("stagebox-ident: magic 0x%08lx %s\n", (unsigned long)magic,
	       verdict(magic == SB_IDENT_MAGIC_VALUE));
	printf("stagebox-ident: version %lu.%lu.%lu\n",
	       (unsigned long)((version & SB_IDENT_VERSION_MAJOR_MASK) >> SB_IDENT_VERSION_MAJOR_SHIFT),
	       (unsigned long)((version & SB_IDENT_VERSION_MINOR_MASK) >> SB_IDENT_VERSION_MINOR_SHIFT),
	       (unsigned long)((version & SB_IDENT_VERSION_PATCH_MASK) >> SB_IDENT_VERSION_PATCH_SHIFT));
	printf("stagebox-ident: source 0x%08lx %s\n", (unsigned long)sb_read(SB_IDENT_SOURCE_REV_ADDR),
	       (flags & SB_IDENT_BUILD_FLAGS_DIRTY_MASK) ? "dirty" : "clean");
	printf("stagebox-ident: build cpu %lu external_audio_clock %lu\n",
	       (unsigned long)((flags & SB_IDENT_BUILD_FLAGS_CPU_MASK) >> SB_IDENT_BUILD_FLAGS_CPU_SHIFT),
	       (unsigned long)((flags & SB_IDENT_BUILD_FLAGS_EXTERNAL_AUDIO_CLOCK_MASK)
	                       >> SB_IDENT_BUILD_FLAGS_EXTERNAL_AUDIO_CLOCK_SHIFT));
	printf("stagebox-ident: sys_clk_hz %lu\n", (unsigned long)sb_read(SB_IDENT_SYS_CLK_HZ_ADDR));
	phy = (phy & SB_IDENT_PHY_TYPE_MASK) >> SB_IDENT_PHY_TYPE_SHIFT;
	printf("stagebox-ident: phy %lu %s\n", (unsigned long)phy, phy_name(phy));
	printf("stagebox-ident: streams tx %lu rx %lu channels tx %lu rx %lu\n",
	       (unsigned long)((streams & SB_IDENT_STREAMS_TX_STREAMS_MASK)
	                       >> SB_IDENT_STREAMS_TX_STREAMS_SHIFT),
	       (unsigned long)((streams & SB_IDENT_STREAMS_RX_STREAMS_MASK)
	                       >> SB_IDENT_STREAMS_RX_STREAMS_SHIFT),
	       (unsigned long)((streams & SB_IDENT_STREAMS_TX_CHANNELS_MASK)
	                       >> SB_IDENT_STREAMS_TX_CHANNELS_SHIFT),
	       (unsigned long)((streams & SB_IDENT_STREAMS_RX_CHANNELS_MASK)
	                       >> SB_IDENT_STREAMS_RX_CHANNELS_SHIFT));
	printf("stagebox-ident: sample_rates 0x%lx\n",
	       (unsigned long)sb_read(SB_IDENT_SAMPLE_RATES_ADDR));
	printf("stagebox-ident: regmap_hash 0x%08lx header 0x%08lx %s\n", (unsigned long)hash,
	       (unsigned long)SB_REGMAP_HASH, verdict(hash == SB_REGMAP_HASH));
}

static void check_scratch(void)
{
	uint32_t initial = sb_read(SB_IDENT_SCRATCH_ADDR);
	int ok = 1;
	unsigned i;

	/* Nothing before this program writes the scratch register: it still holds its reset value. */
	printf("stagebox-ident: scratch reset 0x%08lx %s\n", (unsigned long)initial,
	       verdict(initial == SB_IDENT_SCRATCH_RESET));
	for (i = 0; i < sizeof(scratch_patterns) / sizeof(scratch_patterns[0]); i++) {
		uint32_t readback;
		sb_write(SB_IDENT_SCRATCH_ADDR, scratch_patterns[i]);
		readback = sb_read(SB_IDENT_SCRATCH_ADDR);
		if (readback != scratch_patterns[i]) {
			printf("stagebox-ident: scratch wrote 0x%08lx read 0x%08lx\n",
			       (unsigned long)scratch_patterns[i], (unsigned long)readback);
			ok = 0;
		}
	}
	printf("stagebox-ident: scratch round-trip %u patterns %s\n", i, verdict(ok));
}

static void check_uptime(void)
{
	uint64_t first = read_uptime();
	uint64_t second = read_uptime();
	printf("stagebox-ident: uptime %s\n", verdict(first != 0 && second > first));
}

#ifdef STAGEBOX_CORE_INTERRUPT
static void core_isr(void)
{
	uint32_t pending = sb_read(SB_IRQ_PENDING_ADDR);
	core_irq_pending |= pending;
	core_irq_count++;
	/* One interrupt is all the check wants: leave the source disabled, then acknowledge. */
	sb_write(SB_IRQ_ENABLE_ADDR, 0);
	sb_write(SB_IRQ_PENDING_ADDR, pending);
}

static void check_interrupt(void)
{
	unsigned wait;

	irq_attach(STAGEBOX_CORE_INTERRUPT, core_isr);
	sb_write(SB_IRQ_PENDING_ADDR, 0xFFFFFFFFu);
	sb_write(SB_IRQ_ENABLE_ADDR, SB_IRQ_ENABLE_SOFTWARE_MASK);
	irq_setmask(irq_getmask() | (1u << STAGEBOX_CORE_INTERRUPT));
	sb_write(SB_IRQ_TEST_ADDR, SB_IRQ_TEST_SOFTWARE_MASK);
	/* The level reaches the CPU within a few cycles; the bound only stops a dead line hanging. */
	for (wait = 0; wait < 1000 && core_irq_count == 0; wait++)
		;
	irq_setmask(irq_getmask() & ~(1u << STAGEBOX_CORE_INTERRUPT));
	printf("stagebox-ident: irq %u count %lu pending 0x%08lx %s\n", STAGEBOX_CORE_INTERRUPT,
	       (unsigned long)core_irq_count, (unsigned long)core_irq_pending,
	       verdict(core_irq_count == 1 && core_irq_pending == SB_IRQ_PENDING_SOFTWARE_MASK));
}
#endif

static void finish(void)
{
	/* Let the UART drain before the simulation stops, or the last line is lost. */
	uart_sync();
#ifdef CSR_UART_TXEMPTY_ADDR
	while (!uart_txempty_read())
		;
#endif
#ifdef CSR_SIM_FINISHER_BASE
	sim_finisher_finish_write(1);
#endif
	for (;;)
		;
}

int main(void)
{
	irq_setmask(0);
	irq_setie(1);
	uart_init();

	printf("\nstagebox-ident: start\n");
	print_identity();
	check_scratch();
	check_uptime();
#ifdef STAGEBOX_CORE_INTERRUPT
	check_interrupt();
#endif
	printf(IDENT_END "\n");
	finish();
	return 0;
}
