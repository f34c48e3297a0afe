/*
 * Stagebox SPI register bridge: portable host driver. See stagebox_spi.h.
 *
 * Request:  CMD COUNT ADDR[4] [DATA[4n] for writes] CRC[2]
 * Response: WAIT* STATUS [DATA[4n] for a good read] CRC[2], the CRC continuing the request's.
 * All protocol constants come from the generated stagebox_regs.h. Freestanding: no libc calls.
 */
#include "stagebox_spi.h"

#include "stagebox_regs.h"

#if SB_SPI_CHUNK_BYTES < 8u
#error "SB_SPI_CHUNK_BYTES must be at least 8"
#endif

/* Bytes a device may still need to return to idle: the longest request, then the longest
 * response (its execution time is covered by max_wait). */
#define SB_SPI_FLUSH_BYTES \
    (2u * (SB_SPI_HEADER_BYTES + 4u * SB_SPI_MAX_WORDS + 2u) + 2u)

uint16_t sb_spi_crc16(uint16_t crc, const uint8_t *data, size_t len)
{
    size_t i;
    unsigned bit;

    for (i = 0; i < len; i++) {
        crc ^= (uint16_t)((uint16_t)data[i] << 8);
        for (bit = 0; bit < 8u; bit++) {
            if (crc & 0x8000u)
                crc = (uint16_t)((crc << 1) ^ SB_SPI_CRC_POLY);
            else
                crc = (uint16_t)(crc << 1);
        }
    }
    return crc;
}

void sb_spi_init(struct sb_spi *dev, sb_spi_transfer_fn transfer, void *ctx)
{
    dev->transfer = transfer;
    dev->ctx = ctx;
    dev->max_wait = SB_SPI_DEFAULT_MAX_WAIT;
    dev->retries = SB_SPI_DEFAULT_RETRIES;
    dev->max_words = SB_SPI_MAX_WORDS;
    dev->need_resync = 1;
    dev->retried = 0;
    dev->resyncs = 0;
}

const char *sb_spi_strerror(int result)
{
    switch (result) {
    case SB_SPI_OK: return "SB_SPI_OK";
    case SB_SPI_ERR_CRC: return "SB_SPI_ERR_CRC";
    case SB_SPI_ERR_BAD_REQUEST: return "SB_SPI_ERR_BAD_REQUEST";
    case SB_SPI_ERR_BUS: return "SB_SPI_ERR_BUS";
    case SB_SPI_ERR_RESPONSE_CRC: return "SB_SPI_ERR_RESPONSE_CRC";
    case SB_SPI_ERR_NO_RESPONSE: return "SB_SPI_ERR_NO_RESPONSE";
    case SB_SPI_ERR_TRANSFER: return "SB_SPI_ERR_TRANSFER";
    case SB_SPI_ERR_ARG: return "SB_SPI_ERR_ARG";
    default: return "SB_SPI_ERR_UNKNOWN";
    }
}

/* One transfer call; any short or failed transfer leaves the device in an unknown state. */
static int xfer(struct sb_spi *dev, const uint8_t *tx, uint8_t *rx, size_t len)
{
    int got = dev->transfer(dev->ctx, tx, rx, len);

    if (got < 0 || (size_t)got != len) {
        dev->need_resync = 1;
        return SB_SPI_ERR_TRANSFER;
    }
    return SB_SPI_OK;
}

/* Clock `len` (at most SB_SPI_CHUNK_BYTES) filler bytes, collecting MISO in `rx`. */
static int clock_filler(struct sb_spi *dev, uint8_t *rx, size_t len)
{
    uint8_t tx[SB_SPI_CHUNK_BYTES];
    size_t i;

    for (i = 0; i < len; i++)
        tx[i] = SB_SPI_FILLER;
    return xfer(dev, tx, rx, len);
}

int sb_spi_resync(struct sb_spi *dev)
{
    uint8_t rx[SB_SPI_CHUNK_BYTES];
    unsigned long left;
    int rc;

    if (dev == NULL || dev->transfer == NULL)
        return SB_SPI_ERR_ARG;
    left = SB_SPI_FLUSH_BYTES + (unsigned long)dev->max_wait;
    while (left > 0) {
        size_t n = left < SB_SPI_CHUNK_BYTES ? (size_t)left : SB_SPI_CHUNK_BYTES;

        rc = clock_filler(dev, rx, n);
        if (rc != SB_SPI_OK)
            return rc;
        left -= n;
    }
    dev->need_resync = 0;
    dev->resyncs++;
    return SB_SPI_OK;
}

/* Request bytes are staged in a chunk buffer and sent whenever it fills up. */
struct request_out {
    struct sb_spi *dev;
    uint8_t tx[SB_SPI_CHUNK_BYTES];
    uint8_t rx[SB_SPI_CHUNK_BYTES];
    size_t fill;
    uint16_t crc;
};

static int out_flush(struct request_out *out)
{
    int rc = SB_SPI_OK;

    if (out->fill > 0)
        rc = xfer(out->dev, out->tx, out->rx, out->fill);
    out->fill = 0;
    return rc;
}

static int out_byte(struct request_out *out, uint8_t byte, int covered_by_crc)
{
    if (covered_by_crc)
        out->crc = sb_spi_crc16(out->crc, &byte, 1);
    out->tx[out->fill++] = byte;
    return out->fill == SB_SPI_CHUNK_BYTES ? out_flush(out) : SB_SPI_OK;
}

static int out_word(struct request_out *out, uint32_t word)
{
    int shift, rc;

    for (shift = 24; shift >= 0; shift -= 8) {
        rc = out_byte(out, (uint8_t)(word >> shift), 1);
        if (rc != SB_SPI_OK)
            return rc;
    }
    return SB_SPI_OK;
}

/* Send the request; return its CRC (the response's CRC continues it) through `crc`. */
static int send_request(struct sb_spi *dev, uint8_t cmd, uint32_t addr, const uint32_t *data,
                        unsigned count, uint16_t *crc)
{
    struct request_out out;
    unsigned i;
    int rc;

    out.dev = dev;
    out.fill = 0;
    out.crc = SB_SPI_CRC_INIT;
    rc = out_byte(&out, cmd, 1);
    if (rc == SB_SPI_OK)
        rc = out_byte(&out, (uint8_t)(count - 1u), 1);
    if (rc == SB_SPI_OK)
        rc = out_word(&out, addr);
    for (i = 0; data != NULL && i < count && rc == SB_SPI_OK; i++)
        rc = out_word(&out, data[i]);
    *crc = out.crc;
    if (rc == SB_SPI_OK)
        rc = out_byte(&out, (uint8_t)(out.crc >> 8), 0);
    if (rc == SB_SPI_OK)
        rc = out_byte(&out, (uint8_t)(out.crc & 0xFFu), 0);
    if (rc == SB_SPI_OK)
        rc = out_flush(&out);
    return rc;
}

static int status_result(uint8_t status)
{
    switch (status) {
    case SB_SPI_STATUS_OK: return SB_SPI_OK;
    case SB_SPI_STATUS_CRC_ERROR: return SB_SPI_ERR_CRC;
    case SB_SPI_STATUS_BAD_REQUEST: return SB_SPI_ERR_BAD_REQUEST;
    case SB_SPI_STATUS_BUS_ERROR: return SB_SPI_ERR_BUS;
    default: return SB_SPI_ERR_RESPONSE_CRC;  /* not a status the device sends */
    }
}

/* One attempt: request, then poll for STATUS and read the rest of the response. */
static int transact(struct sb_spi *dev, uint8_t cmd, uint32_t addr, uint32_t *rdata,
                    const uint32_t *wdata, unsigned count)
{
    uint8_t rx[SB_SPI_CHUNK_BYTES];
    uint16_t crc, rx_crc = 0;
    uint32_t word = 0;
    unsigned waits = 0;
    size_t n = 0, pos = 0, body, k;
    uint8_t status, byte;
    int rc;

    rc = send_request(dev, cmd, addr, wdata, count, &crc);
    if (rc != SB_SPI_OK)
        return rc;

    /* Poll: at least one WAIT comes first, so clock two bytes, then one at a time. */
    for (;;) {
        n = waits == 0 ? 2u : 1u;
        rc = clock_filler(dev, rx, n);
        if (rc != SB_SPI_OK)
            return rc;
        for (pos = 0; pos < n && rx[pos] == SB_SPI_WAIT; pos++)
            waits++;
        if (pos < n)
            break;
        if (waits > dev->max_wait) {
            dev->need_resync = 1;  /* still busy, or it never saw the request */
            return SB_SPI_ERR_NO_RESPONSE;
        }
    }
    status = rx[pos++];
    /* A CRC_ERROR reply is checked on its own: the device cannot know what we meant to send. */
    if (status == SB_SPI_STATUS_CRC_ERROR)
        crc = SB_SPI_CRC_INIT;
    crc = sb_spi_crc16(crc, &status, 1);

    /* The rest: DATA for a good read, then the CRC. Never clock past the response's end. */
    body = (cmd == SB_SPI_CMD_READ && status == SB_SPI_STATUS_OK ? 4u * (size_t)count : 0u);
    for (k = 0; k < body + 2u; k++) {
        if (pos == n) {
            n = body + 2u - k;
            if (n > SB_SPI_CHUNK_BYTES)
                n = SB_SPI_CHUNK_BYTES;
            pos = 0;
            rc = clock_filler(dev, rx, n);
            if (rc != SB_SPI_OK)
                return rc;
        }
        byte = rx[pos++];
        if (k < body) {
            crc = sb_spi_crc16(crc, &byte, 1);
            word = (word << 8) | byte;
            if ((k & 3u) == 3u)
                rdata[k >> 2] = word;
        } else {
            rx_crc = (uint16_t)((rx_crc << 8) | byte);
        }
    }
    if (rx_crc != crc) {
        /* A corrupted STATUS may have made us stop early or read too far. */
        dev->need_resync = 1;
        return SB_SPI_ERR_RESPONSE_CRC;
    }
    rc = status_result(status);
    if (rc == SB_SPI_ERR_RESPONSE_CRC)
        dev->need_resync = 1;
    return rc;
}

static int retryable(uint8_t cmd, int rc)
{
    if (rc == SB_SPI_ERR_CRC)
        return 1;  /* verified: the device applied nothing */
    return cmd == SB_SPI_CMD_READ
           && (rc == SB_SPI_ERR_RESPONSE_CRC || rc == SB_SPI_ERR_NO_RESPONSE);
}

/* One burst, with resync and retries. */
static int burst(struct sb_spi *dev, uint8_t cmd, uint32_t addr, uint32_t *rdata,
                 const uint32_t *wdata, unsigned count)
{
    unsigned attempt;
    int rc = SB_SPI_ERR_ARG;

    for (attempt = 0; attempt <= dev->retries; attempt++) {
        if (attempt > 0)
            dev->retried++;
        if (dev->need_resync) {
            rc = sb_spi_resync(dev);
            if (rc != SB_SPI_OK)
                return rc;
        }
        rc = transact(dev, cmd, addr, rdata, wdata, count);
        if (rc == SB_SPI_OK || !retryable(cmd, rc))
            return rc;
    }
    return rc;
}

static int check(const struct sb_spi *dev, const void *words, unsigned count)
{
    if (dev == NULL || dev->transfer == NULL || words == NULL || count == 0)
        return SB_SPI_ERR_ARG;
    if (dev->max_words == 0 || dev->max_words > SB_SPI_MAX_WORDS)
        return SB_SPI_ERR_ARG;
    return SB_SPI_OK;
}

int sb_spi_read(struct sb_spi *dev, uint32_t addr, uint32_t *words, unsigned count)
{
    int rc = check(dev, words, count);

    while (rc == SB_SPI_OK && count > 0) {
        unsigned n = count < dev->max_words ? count : dev->max_words;

        rc = burst(dev, SB_SPI_CMD_READ, addr, words, NULL, n);
        addr += 4u * n;
        words += n;
        count -= n;
    }
    return rc;
}

int sb_spi_write(struct sb_spi *dev, uint32_t addr, const uint32_t *words, unsigned count)
{
    int rc = check(dev, words, count);

    while (rc == SB_SPI_OK && count > 0) {
        unsigned n = count < dev->max_words ? count : dev->max_words;

        rc = burst(dev, SB_SPI_CMD_WRITE, addr, NULL, words, n);
        addr += 4u * n;
        words += n;
        count -= n;
    }
    return rc;
}

int sb_spi_read32(struct sb_spi *dev, uint32_t addr, uint32_t *value)
{
    return sb_spi_read(dev, addr, value, 1);
}

int sb_spi_write32(struct sb_spi *dev, uint32_t addr, uint32_t value)
{
    return sb_spi_write(dev, addr, &value, 1);
}
