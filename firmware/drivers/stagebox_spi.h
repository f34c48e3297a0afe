/*
 * Stagebox SPI register bridge: portable host driver (C99, no OS dependency).
 *
 * The MCU supplies one full-duplex transfer function; the driver builds requests, polls for
 * the response, checks both CRCs and retries what is safe to retry. The wire protocol and its
 * constants are defined in Python (stagebox/driver/spi_protocol.py) and reach C through the
 * generated header stagebox_regs.h: this driver hard-codes none of them.
 *
 * Transfers: each call to `transfer` is one CS-low period; CS may rise between calls, as long
 * as the gap stays below the device's SPI_GAP_TIMEOUT_US. Requests and responses are clocked
 * in pieces of at most SB_SPI_CHUNK_BYTES bytes (stack buffers of twice that size).
 *
 * Not thread safe: serialize calls on one `struct sb_spi` yourself.
 */
#ifndef STAGEBOX_SPI_H
#define STAGEBOX_SPI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest piece clocked by one `transfer` call (two buffers of this size live on the stack). */
#ifndef SB_SPI_CHUNK_BYTES
#define SB_SPI_CHUNK_BYTES 64u
#endif

/* Defaults installed by sb_spi_init(); change the fields of struct sb_spi afterwards. */
#define SB_SPI_DEFAULT_MAX_WAIT 64u  /* WAIT bytes polled before giving up on a response */
#define SB_SPI_DEFAULT_RETRIES 2u    /* extra attempts for retryable failures */

/* Results: 0 on success, negative on failure. */
enum sb_spi_result {
    SB_SPI_OK = 0,
    SB_SPI_ERR_CRC = -1,           /* the device saw a bad request CRC: nothing was done */
    SB_SPI_ERR_BAD_REQUEST = -2,   /* unaligned or out-of-range address, burst too long */
    SB_SPI_ERR_BUS = -3,           /* a bus access failed (earlier words of a write applied) */
    SB_SPI_ERR_RESPONSE_CRC = -4,  /* the response did not verify: outcome unknown */
    SB_SPI_ERR_NO_RESPONSE = -5,   /* MISO stayed WAIT for more than max_wait bytes */
    SB_SPI_ERR_TRANSFER = -6,      /* the transfer function failed or moved fewer bytes */
    SB_SPI_ERR_ARG = -7            /* bad argument (NULL pointer, zero count, ...) */
};

/*
 * Full-duplex transfer of `len` bytes with CS asserted for the whole call: send tx[i] and
 * store the byte received at the same time in rx[i]. Return `len` on success; anything else
 * (a negative error code, or fewer bytes) fails the transaction with SB_SPI_ERR_TRANSFER.
 */
typedef int (*sb_spi_transfer_fn)(void *ctx, const uint8_t *tx, uint8_t *rx, size_t len);

struct sb_spi {
    sb_spi_transfer_fn transfer;
    void *ctx;
    unsigned max_wait;    /* WAIT bytes accepted before SB_SPI_ERR_NO_RESPONSE */
    unsigned retries;     /* extra attempts after a retryable failure (see sb_spi_read/write) */
    unsigned max_words;   /* longest burst sent (device's SPI_MAX_WORDS; at most 256) */
    int need_resync;      /* nonzero: flush the device back to idle before the next request */
    /* Statistics, never reset by the driver. */
    unsigned long retried;   /* attempts repeated */
    unsigned long resyncs;   /* flushes performed */
};

/* Set up `dev`. The first transaction starts with a resync (the device state is unknown). */
void sb_spi_init(struct sb_spi *dev, sb_spi_transfer_fn transfer, void *ctx);

/*
 * Read `count` 32-bit words from byte address `addr` onwards into `words`. Longer reads than
 * dev->max_words are split into several bursts. A burst that fails with a bad CRC (either
 * way) or without response is retried up to dev->retries times. On failure the contents of
 * `words` are unspecified.
 */
int sb_spi_read(struct sb_spi *dev, uint32_t addr, uint32_t *words, unsigned count);

/*
 * Write `count` 32-bit words to byte address `addr` onwards, split into bursts like
 * sb_spi_read. A burst is retried only when the device verifiably reported SB_SPI_ERR_CRC
 * (it applied nothing); after SB_SPI_ERR_RESPONSE_CRC or SB_SPI_ERR_NO_RESPONSE the burst may
 * or may not have been applied (read SPI_LAST_STATUS or the target to find out). If a later
 * burst fails, the earlier ones stay applied.
 */
int sb_spi_write(struct sb_spi *dev, uint32_t addr, const uint32_t *words, unsigned count);

int sb_spi_read32(struct sb_spi *dev, uint32_t addr, uint32_t *value);
int sb_spi_write32(struct sb_spi *dev, uint32_t addr, uint32_t value);

/*
 * Clock filler until the device is idle whatever it was doing (an unfinished request or
 * response of the longest burst, plus dev->max_wait bytes of execution). Done automatically
 * after a failure that may have left the device mid-transaction.
 */
int sb_spi_resync(struct sb_spi *dev);

/* CRC-16/CCITT-FALSE of `len` bytes, continuing from `crc` (start with SB_SPI_CRC_INIT). */
uint16_t sb_spi_crc16(uint16_t crc, const uint8_t *data, size_t len);

/* A short constant name for a result code, for logs. */
const char *sb_spi_strerror(int result);

#ifdef __cplusplus
}
#endif

#endif /* STAGEBOX_SPI_H */
