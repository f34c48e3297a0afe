// Stagebox system simulator: the event-driven harness around compiled designs.
//
// Time. One true time for the whole world, in femtoseconds (int64: 2.5 hours of simulated time);
// the C API speaks picoseconds. Every clock is an oscillator with a nominal frequency, an error
// in ppm and an optional random-walk wander; its half period is kept in 32.32 fixed-point
// femtoseconds and its edges accumulate exactly (no drift from rounding). The world advances to
// the earliest pending edge of any clock of any device; clocks of one device that share an
// oscillator and a frequency are one `Clock` driving several pins, so they rise in one eval.
//
// Inputs. The design is compiled inside a wrapper (sim/build.py) that registers every
// non-clock input on the clock of its domain, so the Verilated model has no combinational paths
// from its inputs. Models therefore write inputs *before* the rising edge that launches them:
// the value appears at the design's port at that edge, exactly like the output flop of a
// synchronous PHY, bus master or converter. Outputs are read *after* the eval of a rising edge:
// the value launched at that edge, stamped with that edge's time.
//
// Models (attached from Python, by port name):
//   - PhyRx / PhyTx: GMII (8-bit), MII (4-bit) and RMII (2-bit) symbol streams with frame queues;
//     a frame's time is the instant its first byte after the SFD is at the pins.
//   - WishboneMaster: register access, one classic cycle at a time, with a timeout.
//   - Monitor: every change of a 1-bit output, stamped (PPS, IRQ, LRCK, ...).
//   - InputSchedule: timed changes of any registered input (event capture pins, MDIO, ...).
//   - AudioPort: I2S / TDM bit streams in and out, framed by the design's BCLK and LRCK.
//   - Resets: every `rst` / `<domain>_rst` is held high for the first N rising edges of its clock.
//
// Python is never called per cycle: `sb_run` advances the world until a time or until a model
// raises a stop condition (a frame transmitted, a bus cycle done, ...), and Python exchanges
// frames, samples and register values at that granularity.
#include "harness.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <deque>
#include <memory>

using namespace stagebox_sim;

namespace {

constexpr int64_t FS_PER_PS = 1000;

enum StopReason : int {
    STOP_TIME = 0,
    STOP_TX_FRAME = 1 << 0,
    STOP_BUS = 1 << 1,
    STOP_MONITOR = 1 << 2,
    STOP_AUDIO = 1 << 3,
    STOP_RX_FRAME = 1 << 4,
};

uint32_t crc32_table[256];
bool crc32_ready = false;

uint32_t crc32(const uint8_t* data, size_t n) {
    if (!crc32_ready) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            crc32_table[i] = c;
        }
        crc32_ready = true;
    }
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) c = crc32_table[(c ^ data[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

// splitmix64: small, seedable, reproducible across platforms.
struct Rng {
    uint64_t s;
    uint64_t next() {
        uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    double uniform() { return (next() >> 11) * (1.0 / 9007199254740992.0); }
    double normal() {  // Box-Muller; one value per call keeps the draw order simple
        double u1 = uniform(), u2 = uniform();
        if (u1 < 1e-300) u1 = 1e-300;
        return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    }
};

struct Device;

struct Clock;

// A model hooked to a clock's rising edges.
struct Hook {
    virtual ~Hook() = default;
    // Before the edge: write the inputs this edge launches. `now` is the edge's time.
    virtual void pre(int64_t now_fs) { (void)now_fs; }
    // After the edge's eval: read what the edge launched.
    virtual void post(int64_t now_fs) { (void)now_fs; }
};

struct Clock {
    std::vector<Port*> pins;
    double nominal_hz = 0;
    double ppm = 0;
    double wander_ppm = 0;  // random-walk intensity: ppm per sqrt(second)
    Rng rng{0};
    uint64_t half_q32 = 0;  // half period, femtoseconds, 32.32 fixed point
    int64_t next_fs = 0;    // time of the next edge
    uint32_t next_frac = 0;
    bool level = false;     // level after the last edge
    bool quiet_falls = false;  // falling edges without an eval (Model::quiet_fall)
    uint64_t rises = 0;
    uint64_t wander_every = 0;  // rising edges between wander updates (1 ms worth)
    std::vector<Hook*> hooks;
    Device* device = nullptr;

    void set_ppm(double value) {
        ppm = value;
        double half_fs = 0.5e15 / (nominal_hz * (1.0 + ppm * 1e-6));
        half_q32 = uint64_t(std::llround(half_fs * 4294967296.0));
    }
    double period_fs() const { return 2.0 * double(half_q32) / 4294967296.0; }
    void advance() {
        uint64_t frac = uint64_t(next_frac) + (half_q32 & 0xFFFFFFFFull);
        next_fs += int64_t(half_q32 >> 32) + int64_t(frac >> 32);
        next_frac = uint32_t(frac);
    }
};

struct Frame {
    std::vector<uint8_t> data;  // destination MAC .. payload (no preamble, no FCS)
    int64_t time_fs = 0;        // first byte after the SFD at the pins
    uint64_t id = 0;
    int flags = 0;
};

enum FrameFlags : int {
    FRAME_BAD_FCS = 1 << 0,      // TX: FCS did not match; RX request: send a corrupted FCS
    FRAME_ERROR = 1 << 1,        // TX_ER seen / RX request: assert RX_ER mid-frame
    FRAME_BAD_PREAMBLE = 1 << 2, // TX: no SFD, or a preamble symbol other than 0x55
    FRAME_SHORT = 1 << 3,        // TX: under 64 bytes with FCS
    FRAME_GAP = 1 << 4,          // TX: inter-frame gap under 12 bytes before this frame
    FRAME_DRIBBLE = 1 << 5,      // TX: ended with a partial byte
};

struct Device {
    std::unique_ptr<Model> model;
    std::vector<std::unique_ptr<Clock>> clocks;
    std::vector<std::unique_ptr<Hook>> hooks;
    int reset_cycles = 4;
    bool tracing = false;
};

struct World {
    std::vector<std::unique_ptr<Device>> devices;
    std::vector<Clock*> clocks;  // every clock of every device
    int64_t now_fs = 0;
    int stop = 0;
};

// ---------------------------------------------------------------------------------------------
// Resets

struct ResetHook : Hook {
    Clock* clock;
    std::vector<Port*> pins;
    int cycles;
    void pre(int64_t) override {
        uint64_t value = clock->rises < uint64_t(cycles) ? 1 : 0;
        for (auto* pin : pins) pin->set(value);
    }
};

// ---------------------------------------------------------------------------------------------
// Ethernet PHY models (the PHY's side of the MII-family interface)

struct PhyRx : Hook {
    World* world = nullptr;
    Clock* clock = nullptr;
    int width = 8;  // bits per symbol
    Port* rxd = nullptr;
    Port* dv = nullptr;  // RX_DV or CRS_DV
    Port* er = nullptr;
    std::deque<Frame> queue;
    std::vector<uint8_t> symbols;  // of the frame on the wire now
    size_t pos = 0;
    size_t data_symbol = 0;  // index of the first symbol after the SFD
    Frame current;
    bool busy = false;
    uint64_t idle_symbols = 1u << 20;
    size_t error_symbol = SIZE_MAX;
    std::deque<Frame> delivered;  // frames put on the pins (time = actual data start), no data
    uint64_t frames = 0;

    int per_byte() const { return 8 / width; }

    void load(Frame&& frame) {
        std::vector<uint8_t> wire(7, 0x55);
        wire.push_back(0xD5);
        std::vector<uint8_t> body = frame.data;
        if (body.size() < 60) body.resize(60, 0);
        uint32_t fcs = crc32(body.data(), body.size());
        if (frame.flags & FRAME_BAD_FCS) fcs ^= 0x1;
        for (int i = 0; i < 4; i++) body.push_back(uint8_t(fcs >> (8 * i)));
        wire.insert(wire.end(), body.begin(), body.end());
        symbols.clear();
        for (uint8_t byte : wire)
            for (int s = 0; s < per_byte(); s++)
                symbols.push_back(uint8_t((byte >> (s * width)) & ((1 << width) - 1)));
        data_symbol = size_t(8 * per_byte());
        error_symbol = (frame.flags & FRAME_ERROR) ? data_symbol + symbols.size() / 2 - data_symbol / 2
                                                   : SIZE_MAX;
        current = std::move(frame);
        pos = 0;
        busy = true;
    }

    void pre(int64_t now_fs) override {
        if (!busy && !queue.empty() && idle_symbols >= uint64_t(12 * per_byte())) {
            // Start so that the first data symbol lands on the first edge at or after the
            // requested time (the preamble occupies the edges before it).
            // (A quarter period of slack absorbs the rounding of the estimate on exact grids.)
            const double period = clock->period_fs();
            int64_t lead = int64_t(std::llround(8.0 * per_byte() * period));
            if (now_fs + lead >= queue.front().time_fs - int64_t(period / 4)) {
                Frame frame = std::move(queue.front());
                queue.pop_front();
                load(std::move(frame));
            }
        }
        if (busy) {
            if (pos == data_symbol) {
                Frame note;
                note.id = current.id;
                note.time_fs = now_fs;
                note.flags = current.flags;
                delivered.push_back(std::move(note));
                world->stop |= STOP_RX_FRAME;
            }
            rxd->set(symbols[pos]);
            dv->set(1);
            if (er) er->set(pos == error_symbol ? 1 : 0);
            pos++;
            if (pos == symbols.size()) {
                busy = false;
                idle_symbols = 0;
                frames++;
            }
        } else {
            rxd->set(0);
            dv->set(0);
            if (er) er->set(0);
            idle_symbols++;
        }
    }
};

struct PhyTx : Hook {
    World* world = nullptr;
    int width = 8;
    Port* txd = nullptr;
    Port* en = nullptr;
    Port* er = nullptr;
    bool active = false;
    bool error = false;
    std::vector<uint8_t> symbols;
    std::vector<int64_t> times;
    uint64_t idle_symbols = 1u << 20;
    uint64_t gap_before = 0;
    std::deque<Frame> frames;
    uint64_t frames_total = 0;

    int per_byte() const { return 8 / width; }

    void finish() {
        Frame frame;
        int flags = error ? FRAME_ERROR : 0;
        if (gap_before < uint64_t(12 * per_byte())) flags |= FRAME_GAP;
        // Preamble: symbols of 0x55 up to the SFD's last symbol (0xD5's high symbol).
        const uint8_t pre_sym = uint8_t(0x55 & ((1 << width) - 1));
        const uint8_t sfd_last = uint8_t((0xD5 >> (8 - width)) & ((1 << width) - 1));
        size_t i = 0;
        bool ok = true;
        size_t start = SIZE_MAX;
        if (width == 8) {
            while (i < symbols.size() && symbols[i] == 0x55) i++;
            if (i < symbols.size() && symbols[i] == 0xD5 && i >= 1) start = i + 1;
        } else {
            while (i < symbols.size() && symbols[i] == pre_sym) i++;
            if (i < symbols.size() && symbols[i] == sfd_last && i >= 1) start = i + 1;
        }
        if (start == SIZE_MAX) {
            ok = false;
            start = symbols.size();
        }
        if (!ok) flags |= FRAME_BAD_PREAMBLE;
        size_t n = symbols.size() - start;
        size_t whole = n / per_byte();
        if (n % per_byte()) flags |= FRAME_DRIBBLE;
        std::vector<uint8_t> bytes(whole);
        for (size_t b = 0; b < whole; b++) {
            uint8_t value = 0;
            for (int s = 0; s < per_byte(); s++)
                value |= uint8_t(symbols[start + b * per_byte() + s] << (s * width));
            bytes[b] = value;
        }
        frame.time_fs = start < times.size() ? times[start] : (times.empty() ? 0 : times.back());
        if (bytes.size() < 64) flags |= FRAME_SHORT;
        if (bytes.size() >= 4) {
            uint32_t want = crc32(bytes.data(), bytes.size() - 4);
            uint32_t got = uint32_t(bytes[bytes.size() - 4]) | uint32_t(bytes[bytes.size() - 3]) << 8 |
                           uint32_t(bytes[bytes.size() - 2]) << 16 | uint32_t(bytes[bytes.size() - 1]) << 24;
            if (want != got) flags |= FRAME_BAD_FCS;
            bytes.resize(bytes.size() - 4);
        } else {
            flags |= FRAME_BAD_FCS;
        }
        frame.data = std::move(bytes);
        frame.flags = flags;
        frame.id = ++frames_total;
        frames.push_back(std::move(frame));
        world->stop |= STOP_TX_FRAME;
    }

    void post(int64_t now_fs) override {
        bool on = en->get() != 0;
        if (on) {
            if (!active) {
                active = true;
                error = false;
                symbols.clear();
                times.clear();
                gap_before = idle_symbols;
            }
            symbols.push_back(uint8_t(txd->get()));
            times.push_back(now_fs);
            if (er && er->get()) error = true;
            idle_symbols = 0;
        } else {
            if (active) {
                active = false;
                finish();
            }
            idle_symbols++;
        }
    }
};

// ---------------------------------------------------------------------------------------------
// Register bus: a Wishbone classic master with registered outputs

struct BusOp {
    uint64_t id;
    bool write;
    uint32_t address;  // byte address
    uint32_t data;
    uint32_t sel;
    int status = 0;    // 0 pending, 1 acknowledged, 2 error, 3 timeout
    uint32_t result = 0;
};

struct WishboneMaster : Hook {
    World* world = nullptr;
    Port *adr, *dat_w, *dat_r, *sel, *cyc, *stb, *we, *ack, *err;
    int address_shift = 2;
    int timeout = 1024;
    std::deque<BusOp> queue;
    std::deque<BusOp> done;
    bool active = false;
    int waited = 0;
    uint64_t next_id = 0;

    void drive(bool on) {
        if (!on) {
            cyc->set(0);
            stb->set(0);
            we->set(0);
            return;
        }
        const BusOp& op = queue.front();
        adr->set(op.address >> address_shift);
        dat_w->set(op.data);
        sel->set(op.sel);
        we->set(op.write ? 1 : 0);
        cyc->set(1);
        stb->set(1);
    }
    void pre(int64_t) override {
        if (!active && !queue.empty()) {
            active = true;
            waited = 0;
            drive(true);
        } else if (!active) {
            drive(false);
        }
    }
    void post(int64_t) override {
        if (!active) return;
        waited++;
        int status = 0;
        if (ack->get()) status = 1;
        else if (err && err->get()) status = 2;
        else if (waited >= timeout) status = 3;
        if (!status) return;
        BusOp op = queue.front();
        queue.pop_front();
        op.status = status;
        op.result = status == 1 ? uint32_t(dat_r->get()) : 0;
        done.push_back(op);
        active = false;
        drive(false);
        world->stop |= STOP_BUS;
    }
};

// ---------------------------------------------------------------------------------------------
// Output monitors and timed inputs

struct Monitor : Hook {
    World* world = nullptr;
    Port* pin = nullptr;
    uint64_t last = 0;
    bool started = false;
    bool stop_on_change = false;
    std::deque<std::pair<int64_t, uint64_t>> changes;
    size_t limit = 1u << 20;
    uint64_t dropped = 0;
    void post(int64_t now_fs) override {
        uint64_t value = pin->get();
        if (!started) {
            started = true;
            last = value;
            return;
        }
        if (value != last) {
            last = value;
            if (changes.size() < limit) changes.emplace_back(now_fs, value);
            else dropped++;
            if (stop_on_change) world->stop |= STOP_MONITOR;
        }
    }
};

struct InputSchedule : Hook {
    Clock* clock = nullptr;
    Port* pin = nullptr;
    std::deque<std::pair<int64_t, uint64_t>> changes;  // sorted by time
    void pre(int64_t) override {
        // The wrapper's register launches now what the design samples at the next edge: apply
        // every change made before that edge.
        int64_t next_edge = clock->next_fs + int64_t(clock->half_q32 >> 32) * 2;
        while (!changes.empty() && changes.front().first < next_edge) {
            pin->set(changes.front().second);
            changes.pop_front();
        }
    }
};

// ---------------------------------------------------------------------------------------------
// Audio: I2S / TDM serial data, framed by the design's BCLK and LRCK (design is clock master)

struct AudioFrame {
    int64_t time_fs;              // the frame-start BCLK edge
    std::vector<int32_t> samples; // lines x slots, line-major
};

struct AudioPort : Hook {
    World* world = nullptr;
    Port *bclk, *lrck, *data;
    bool to_design = true;  // true: we drive `data` (ADC); false: we sample it (DAC)
    int lines = 1, slots = 2, slot_bits = 32, sample_bits = 24;
    bool frame_on_rise = false;  // I2S: frame starts when LRCK falls; TDM: when the sync rises
    int delay = 1;               // BCLK periods from frame start to the first slot's MSB
    bool stop_on_frame = false;

    uint64_t last_bclk = 0, last_lrck = 0;
    bool started = false, framed = false;
    int bit = 0;  // BCLK falling edges since the frame start (0 at the start)
    std::deque<AudioFrame> in_queue;   // to the design
    std::deque<AudioFrame> out_queue;  // from the design
    AudioFrame current;
    // With a data delay, a frame's last `delay` bits travel in the first periods of the next
    // frame: the frame before `current` (to the design: still being sent; from the design:
    // still being received, published once its last bit is in).
    AudioFrame previous;
    bool closing = false;
    uint64_t underruns = 0, frames = 0, short_frames = 0;

    int frame_bits() const { return slots * slot_bits; }

    void publish(AudioFrame& frame) {
        out_queue.push_back(frame);
        frames++;
        if (stop_on_frame) world->stop |= STOP_AUDIO;
    }

    void begin_frame(int64_t now_fs) {
        // `bit` is the index of the ending frame's last period.
        if (framed && bit + 1 != frame_bits()) short_frames++;
        if (!to_design && framed) {
            if (closing) publish(previous);  // cut short: its missing bits stay 0
            closing = false;
            if (delay == 0) {
                publish(current);
            } else {
                previous = current;
                closing = true;
            }
        }
        if (to_design) previous = current;
        current.time_fs = now_fs;
        current.samples.assign(size_t(lines * slots), 0);
        if (to_design) {
            if (!in_queue.empty()) {
                current.samples = std::move(in_queue.front().samples);
                current.samples.resize(size_t(lines * slots), 0);
                in_queue.pop_front();
                frames++;
                AudioFrame note;
                note.time_fs = now_fs;
                out_queue.push_back(note);  // for inputs: when each frame was latched
                if (stop_on_frame) world->stop |= STOP_AUDIO;
            } else {
                underruns++;
            }
        }
        framed = true;
        bit = 0;
    }

    // The value of bit `k` of the frame (MSB first per slot), for line `line`; k < 0: bit
    // k + frame_bits() of the previous frame.
    int bit_value(int line, int k) const {
        const AudioFrame& f = k < 0 ? previous : current;
        if (k < 0) k += frame_bits();
        int slot = k / slot_bits, within = k % slot_bits;
        if (k < 0 || slot >= slots || within >= sample_bits || f.samples.empty()) return 0;
        uint32_t sample = uint32_t(f.samples[size_t(line * slots + slot)]);
        return (sample >> (sample_bits - 1 - within)) & 1;
    }

    void post(int64_t now_fs) override {
        uint64_t b = bclk->get(), l = lrck->get();
        if (!started) {
            started = true;
            last_bclk = b;
            last_lrck = l;
            return;
        }
        if (last_bclk && !b) {  // BCLK falling: the transmitter's edge
            bool frame_start = frame_on_rise ? (l && !last_lrck) : (!l && last_lrck);
            if (frame_start) begin_frame(now_fs);
            else if (framed) bit++;
            if (to_design && framed) {
                uint64_t value = 0;
                for (int line = 0; line < lines; line++)
                    value |= uint64_t(bit_value(line, bit - delay)) << line;
                data->set(value);
            }
            last_lrck = l;
        } else if (!last_bclk && b) {  // BCLK rising: the receiver's edge
            if (!to_design && framed) {
                int k = bit - delay;
                AudioFrame& f = k < 0 ? previous : current;
                bool into = k >= 0 || closing;
                if (k < 0) k += frame_bits();
                int slot = k / slot_bits, within = k % slot_bits;
                if (into && k >= 0 && slot < slots && within < sample_bits) {
                    uint64_t value = data->get();
                    for (int line = 0; line < lines; line++) {
                        uint32_t& s = reinterpret_cast<uint32_t&>(
                            f.samples[size_t(line * slots + slot)]);
                        s |= uint32_t((value >> line) & 1) << (sample_bits - 1 - within);
                    }
                }
                if (closing && bit - delay == -1) {  // the previous frame's last bit is in
                    publish(previous);
                    closing = false;
                }
            }
            last_lrck = l;
        }
        last_bclk = b;
    }
};

// Sign-extend a captured sample of `bits` bits.
int32_t sign_extend(uint32_t value, int bits) {
    if (bits >= 32) return int32_t(value);
    uint32_t m = 1u << (bits - 1);
    value &= (1u << bits) - 1;
    return int32_t((value ^ m) - m);
}

// ---------------------------------------------------------------------------------------------

Device* device_of(World* w, int d) {
    if (!w || d < 0 || size_t(d) >= w->devices.size()) return nullptr;
    return w->devices[size_t(d)].get();
}

template <typename T>
T* hook_of(World* w, int d, int h) {
    Device* dev = device_of(w, d);
    if (!dev || h < 0 || size_t(h) >= dev->hooks.size()) return nullptr;
    return dynamic_cast<T*>(dev->hooks[size_t(h)].get());
}

Clock* clock_of(World* w, int d, int c) {
    Device* dev = device_of(w, d);
    if (!dev || c < 0 || size_t(c) >= dev->clocks.size()) return nullptr;
    return dev->clocks[size_t(c)].get();
}

char g_error[512];

int fail(const char* fmt, const char* what) {
    std::snprintf(g_error, sizeof g_error, fmt, what);
    return -1;
}

int add_hook(Device* dev, Clock* clock, Hook* hook) {
    dev->hooks.emplace_back(hook);
    clock->hooks.push_back(hook);
    return int(dev->hooks.size() - 1);
}

// One rising or falling edge of one clock.
void edge(World* w, Clock* c) {
    w->now_fs = c->next_fs;
    Device* dev = c->device;
    if (!c->level) {
        for (Hook* h : c->hooks) h->pre(c->next_fs);
        for (Port* p : c->pins) p->set(1);
        dev->model->eval();
        if (dev->tracing) dev->model->trace_dump(uint64_t(w->now_fs / FS_PER_PS));
        c->level = true;
        c->rises++;
        for (Hook* h : c->hooks) h->post(c->next_fs);
        if (c->wander_ppm != 0 && c->wander_every && c->rises % c->wander_every == 0) {
            double dt = double(c->wander_every) / c->nominal_hz;
            c->set_ppm(c->ppm + c->wander_ppm * std::sqrt(dt) * c->rng.normal());
        }
    } else {
        if (c->quiet_falls && !dev->tracing && c->rises > 0) {  // the first eval initialises
            for (Port* p : c->pins) dev->model->quiet_fall(p);
        } else {
            for (Port* p : c->pins) p->set(0);
            dev->model->eval();
            if (dev->tracing) dev->model->trace_dump(uint64_t(w->now_fs / FS_PER_PS));
        }
        c->level = false;
    }
    c->advance();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// C API (ctypes). Times in picoseconds. Functions returning int give -1 on error, with the
// reason in sb_error().

extern "C" {

const char* sb_error() { return g_error; }
const char* sb_design() { return stagebox_sim_design_name(); }

void* sb_world_new() { return new World(); }
void sb_world_free(void* w) {
    World* world = static_cast<World*>(w);
    if (!world) return;
    for (auto& dev : world->devices)
        if (dev->tracing) dev->model->trace_close();
    delete world;
}

int sb_device_new(void* w, int reset_cycles) {
    World* world = static_cast<World*>(w);
    auto dev = std::make_unique<Device>();
    dev->model.reset(stagebox_sim_create_model());
    dev->reset_cycles = reset_cycles;
    world->devices.push_back(std::move(dev));
    return int(world->devices.size() - 1);
}

int sb_port_count(void* w, int d) {
    Device* dev = device_of(static_cast<World*>(w), d);
    return dev ? int(dev->model->ports.size()) : -1;
}

// Name, width and direction (1 input, 0 output) of port `i`.
const char* sb_port_info(void* w, int d, int i, int* width, int* input) {
    Device* dev = device_of(static_cast<World*>(w), d);
    if (!dev || i < 0 || size_t(i) >= dev->model->ports.size()) return nullptr;
    Port& p = dev->model->ports[size_t(i)];
    *width = p.width;
    *input = p.input ? 1 : 0;
    return p.name.c_str();
}

// A clock driving the comma-separated `pins` (and the matching resets: `clk` -> `rst`,
// `X_clk` -> `X_rst`). `phase_ps` delays its first rising edge.
int sb_clock_add(void* w, int d, const char* pins, double hz, double ppm, double wander_ppm,
                 int64_t phase_ps, uint64_t seed) {
    World* world = static_cast<World*>(w);
    Device* dev = device_of(world, d);
    if (!dev) return fail("no device %s", "");
    if (!(hz > 0)) return fail("clock frequency must be positive%s", "");
    auto clock = std::make_unique<Clock>();
    clock->device = dev;
    clock->nominal_hz = hz;
    clock->wander_ppm = wander_ppm;
    clock->rng.s = seed;
    clock->wander_every = uint64_t(std::max(1.0, hz / 1000.0));
    clock->set_ppm(ppm);
    // First edge: a falling edge at phase (the pins start low), rising half a period later.
    clock->next_fs = world->now_fs + phase_ps * FS_PER_PS;
    clock->level = true;
    std::string list(pins);
    auto reset = std::make_unique<ResetHook>();
    reset->clock = clock.get();
    reset->cycles = dev->reset_cycles;
    size_t start = 0;
    while (start <= list.size()) {
        size_t comma = list.find(',', start);
        std::string name = list.substr(start, comma == std::string::npos ? std::string::npos
                                                                         : comma - start);
        start = comma == std::string::npos ? list.size() + 1 : comma + 1;
        if (name.empty()) continue;
        Port* port = dev->model->find(name);
        if (!port || !port->input) return fail("no clock input named %s", name.c_str());
        clock->pins.push_back(port);
        std::string rst;
        if (name == "clk") rst = "rst";
        else if (name.size() > 4 && name.compare(name.size() - 4, 4, "_clk") == 0)
            rst = name.substr(0, name.size() - 4) + "_rst";
        if (Port* r = rst.empty() ? nullptr : dev->model->find(rst)) reset->pins.push_back(r);
    }
    if (clock->pins.empty()) return fail("a clock needs at least one pin%s", "");
    Clock* raw = clock.get();
    if (!reset->pins.empty()) {
        for (Port* p : reset->pins) p->set(1);
        add_hook(dev, raw, reset.release());
    }
    dev->clocks.push_back(std::move(clock));
    world->clocks.push_back(raw);
    return int(dev->clocks.size() - 1);
}

int sb_clock_set_ppm(void* w, int d, int c, double ppm) {
    Clock* clock = clock_of(static_cast<World*>(w), d, c);
    if (!clock) return fail("no such clock%s", "");
    clock->set_ppm(ppm);
    return 0;
}

// Falling edges of this clock without an eval (see Model::quiet_fall). Returns -1 if the
// compiled design cannot do it for one of the clock's pins.
int sb_clock_quiet_falls(void* w, int d, int c, int on) {
    Clock* clock = clock_of(static_cast<World*>(w), d, c);
    if (!clock) return fail("no such clock%s", "");
    if (on) {
        for (Port* p : clock->pins) {
            uint64_t level = p->get();
            bool ok = clock->device->model->quiet_fall(p);
            p->set(level);
            if (!ok) return fail("the compiled design cannot skip falling edges of %s",
                                 p->name.c_str());
        }
    }
    clock->quiet_falls = on != 0;
    return 0;
}

double sb_clock_ppm(void* w, int d, int c) {
    Clock* clock = clock_of(static_cast<World*>(w), d, c);
    return clock ? clock->ppm : 0.0;
}

uint64_t sb_clock_rises(void* w, int d, int c) {
    Clock* clock = clock_of(static_cast<World*>(w), d, c);
    return clock ? clock->rises : 0;
}

int64_t sb_now_ps(void* w) { return static_cast<World*>(w)->now_fs / FS_PER_PS; }

// Advance until `until_ps` or until a stop condition in `mask` is raised; returns the raised
// conditions (0: the time was reached).
int sb_run(void* w, int64_t until_ps, int mask) {
    World* world = static_cast<World*>(w);
    const int64_t until = until_ps * FS_PER_PS;
    world->stop = 0;
    auto& clocks = world->clocks;
    const size_t n = clocks.size();
    if (!n) {
        world->now_fs = std::max(world->now_fs, until);
        return 0;
    }
    for (;;) {
        Clock* next = clocks[0];
        for (size_t i = 1; i < n; i++)
            if (clocks[i]->next_fs < next->next_fs) next = clocks[i];
        if (next->next_fs > until) {
            world->now_fs = std::max(world->now_fs, until);
            return 0;
        }
        edge(world, next);
        if (world->stop & mask) {
            int raised = world->stop & mask;
            world->stop = 0;
            return raised;
        }
    }
}

// Ethernet PHY. kind: 8 GMII, 4 MII, 2 RMII (bits per symbol). The receive side (towards the
// design) runs on `rx_clock`, the transmit side on `tx_clock`. Returns the RX hook; the TX hook
// is the next one.
int sb_phy_attach(void* w, int d, int width, int rx_clock, int tx_clock) {
    World* world = static_cast<World*>(w);
    Device* dev = device_of(world, d);
    Clock* rxc = clock_of(world, d, rx_clock);
    Clock* txc = clock_of(world, d, tx_clock);
    if (!dev || !rxc || !txc) return fail("bad device or clock%s", "");
    if (width != 8 && width != 4 && width != 2) return fail("PHY width must be 8, 4 or 2%s", "");
    Model* m = dev->model.get();
    auto rx = new PhyRx();
    rx->world = world;
    rx->clock = rxc;
    rx->width = width;
    rx->rxd = m->find("rxd");
    rx->dv = m->find(width == 2 ? "crs_dv" : "rx_dv");
    rx->er = m->find("rx_er");
    auto tx = new PhyTx();
    tx->world = world;
    tx->width = width;
    tx->txd = m->find("txd");
    tx->en = m->find("tx_en");
    tx->er = m->find("tx_er");
    if (!rx->rxd || !rx->dv || !tx->txd || !tx->en) {
        delete rx;
        delete tx;
        return fail("the design has no PHY pins (rxd, rx_dv/crs_dv, txd, tx_en)%s", "");
    }
    int index = add_hook(dev, rxc, rx);
    add_hook(dev, txc, tx);
    return index;
}

// Queue a frame for the design to receive; its first byte after the SFD goes on the pins at the
// first receive clock edge at or after `t_ps` less a quarter period (the slack absorbs rounding
// on exact grids), or later if the previous frame and its gap are still on the wire. The edge
// actually used is reported by sb_phy_rx_pop. flags: 1 corrupt the FCS, 2 assert RX_ER mid-frame.
int sb_phy_send(void* w, int d, int hook, const uint8_t* data, int length, int64_t t_ps,
                uint64_t id, int flags) {
    PhyRx* rx = hook_of<PhyRx>(static_cast<World*>(w), d, hook);
    if (!rx) return fail("no PHY receive model%s", "");
    if (length < 0 || length > 16384) return fail("bad frame length%s", "");
    Frame frame;
    frame.data.assign(data, data + length);
    frame.time_fs = t_ps * FS_PER_PS;
    frame.id = id;
    frame.flags = flags;
    rx->queue.push_back(std::move(frame));
    return int(rx->queue.size());
}

// Pop the oldest note of a frame the PHY put on the design's pins: its id, actual time, flags.
int sb_phy_rx_pop(void* w, int d, int hook, uint64_t* id, int64_t* t_ps) {
    PhyRx* rx = hook_of<PhyRx>(static_cast<World*>(w), d, hook);
    if (!rx) return fail("no PHY receive model%s", "");
    if (rx->delivered.empty()) return 0;
    *id = rx->delivered.front().id;
    *t_ps = rx->delivered.front().time_fs / FS_PER_PS;
    rx->delivered.pop_front();
    return 1;
}

int sb_phy_rx_pending(void* w, int d, int hook) {
    PhyRx* rx = hook_of<PhyRx>(static_cast<World*>(w), d, hook);
    if (!rx) return fail("no PHY receive model%s", "");
    return int(rx->queue.size()) + (rx->busy ? 1 : 0);
}

// Pop the oldest frame the design transmitted: returns 1 (0 if none, -1 on error) and its length
// (bytes copied: up to `capacity`). Time of its first byte after the SFD (ps), flags (FrameFlags).
int sb_phy_tx_pop(void* w, int d, int hook, uint8_t* buffer, int capacity, int* length,
                  int64_t* t_ps, int* flags) {
    PhyTx* tx = hook_of<PhyTx>(static_cast<World*>(w), d, hook + 1);
    if (!tx) return fail("no PHY transmit model%s", "");
    if (tx->frames.empty()) return 0;
    Frame& f = tx->frames.front();
    int n = int(f.data.size());
    std::memcpy(buffer, f.data.data(), size_t(std::min(n, capacity)));
    *length = n;
    *t_ps = f.time_fs / FS_PER_PS;
    *flags = f.flags;
    tx->frames.pop_front();
    return 1;
}

int sb_bus_attach(void* w, int d, int clock, const char* prefix, int address_shift, int timeout) {
    World* world = static_cast<World*>(w);
    Device* dev = device_of(world, d);
    Clock* c = clock_of(world, d, clock);
    if (!dev || !c) return fail("bad device or clock%s", "");
    std::string p(prefix);
    Model* m = dev->model.get();
    auto bus = new WishboneMaster();
    bus->world = world;
    bus->adr = m->find(p + "adr");
    bus->dat_w = m->find(p + "dat_w");
    bus->dat_r = m->find(p + "dat_r");
    bus->sel = m->find(p + "sel");
    bus->cyc = m->find(p + "cyc");
    bus->stb = m->find(p + "stb");
    bus->we = m->find(p + "we");
    bus->ack = m->find(p + "ack");
    bus->err = m->find(p + "err");
    if (!bus->adr || !bus->dat_w || !bus->dat_r || !bus->sel || !bus->cyc || !bus->stb ||
        !bus->we || !bus->ack) {
        delete bus;
        return fail("the design has no Wishbone bus named %s*", p.c_str());
    }
    bus->address_shift = address_shift;
    bus->timeout = timeout;
    return add_hook(dev, c, bus);
}

int64_t sb_bus_submit(void* w, int d, int hook, int write, uint32_t address, uint32_t data,
                      uint32_t sel) {
    WishboneMaster* bus = hook_of<WishboneMaster>(static_cast<World*>(w), d, hook);
    if (!bus) return fail("no bus master%s", "");
    BusOp op{++bus->next_id, write != 0, address, data, sel};
    bus->queue.push_back(op);
    return int64_t(op.id);
}

// Pop a finished operation: returns 1 and fills id/status/data, or 0 if none is finished.
int sb_bus_pop(void* w, int d, int hook, uint64_t* id, int* status, uint32_t* data) {
    WishboneMaster* bus = hook_of<WishboneMaster>(static_cast<World*>(w), d, hook);
    if (!bus) return fail("no bus master%s", "");
    if (bus->done.empty()) return 0;
    *id = bus->done.front().id;
    *status = bus->done.front().status;
    *data = bus->done.front().result;
    bus->done.pop_front();
    return 1;
}

int sb_monitor_add(void* w, int d, int clock, const char* pin, int stop) {
    World* world = static_cast<World*>(w);
    Device* dev = device_of(world, d);
    Clock* c = clock_of(world, d, clock);
    if (!dev || !c) return fail("bad device or clock%s", "");
    Port* p = dev->model->find(pin);
    if (!p || p->input) return fail("no output named %s", pin);
    auto mon = new Monitor();
    mon->world = world;
    mon->pin = p;
    mon->stop_on_change = stop != 0;
    return add_hook(dev, c, mon);
}

int sb_monitor_pop(void* w, int d, int hook, int64_t* t_ps, uint64_t* value) {
    Monitor* mon = hook_of<Monitor>(static_cast<World*>(w), d, hook);
    if (!mon) return fail("no monitor%s", "");
    if (mon->changes.empty()) return 0;
    *t_ps = mon->changes.front().first / FS_PER_PS;
    *value = mon->changes.front().second;
    mon->changes.pop_front();
    return 1;
}

int sb_input_attach(void* w, int d, int clock, const char* pin) {
    World* world = static_cast<World*>(w);
    Device* dev = device_of(world, d);
    Clock* c = clock_of(world, d, clock);
    if (!dev || !c) return fail("bad device or clock%s", "");
    Port* p = dev->model->find(pin);
    if (!p || !p->input) return fail("no input named %s", pin);
    auto in = new InputSchedule();
    in->clock = c;
    in->pin = p;
    return add_hook(dev, c, in);
}

int sb_input_schedule(void* w, int d, int hook, int64_t t_ps, uint64_t value) {
    InputSchedule* in = hook_of<InputSchedule>(static_cast<World*>(w), d, hook);
    if (!in) return fail("no input schedule%s", "");
    int64_t t = t_ps * FS_PER_PS;
    if (!in->changes.empty() && t < in->changes.back().first)
        return fail("input changes must be scheduled in time order%s", "");
    in->changes.emplace_back(t, value);
    return 0;
}

int sb_audio_attach(void* w, int d, int clock, const char* bclk, const char* lrck,
                    const char* data, int to_design, int lines, int slots, int slot_bits,
                    int sample_bits, int frame_on_rise, int delay) {
    World* world = static_cast<World*>(w);
    Device* dev = device_of(world, d);
    Clock* c = clock_of(world, d, clock);
    if (!dev || !c) return fail("bad device or clock%s", "");
    Model* m = dev->model.get();
    auto a = new AudioPort();
    a->world = world;
    a->bclk = m->find(bclk);
    a->lrck = m->find(lrck);
    a->data = m->find(data);
    if (!a->bclk || !a->lrck || !a->data) {
        delete a;
        return fail("the design lacks one of the audio pins (%s)", data);
    }
    if (bool(a->data->input) != bool(to_design) || lines < 1 || lines > a->data->width ||
        slots < 1 || slot_bits < 1 || sample_bits < 1 || sample_bits > slot_bits ||
        sample_bits > 32 || delay < 0) {
        delete a;
        return fail("bad audio port configuration for %s", data);
    }
    a->to_design = to_design != 0;
    a->lines = lines;
    a->slots = slots;
    a->slot_bits = slot_bits;
    a->sample_bits = sample_bits;
    a->frame_on_rise = frame_on_rise != 0;
    a->delay = delay;
    return add_hook(dev, c, a);
}

// Queue `frames` frames of lines x slots samples (line-major) for the design to receive.
int sb_audio_push(void* w, int d, int hook, const int32_t* samples, int frames) {
    AudioPort* a = hook_of<AudioPort>(static_cast<World*>(w), d, hook);
    if (!a || !a->to_design) return fail("no audio input model%s", "");
    size_t n = size_t(a->lines * a->slots);
    for (int f = 0; f < frames; f++) {
        AudioFrame frame;
        frame.time_fs = 0;
        frame.samples.assign(samples + size_t(f) * n, samples + size_t(f + 1) * n);
        a->in_queue.push_back(std::move(frame));
    }
    return int(a->in_queue.size());
}

// Pop up to `max_frames` frames: for an output, the samples the design sent (sign-extended) and
// each frame's start time; for an input, only the times its queued frames were latched.
int sb_audio_pop(void* w, int d, int hook, int32_t* samples, int64_t* times_ps, int max_frames) {
    AudioPort* a = hook_of<AudioPort>(static_cast<World*>(w), d, hook);
    if (!a) return fail("no audio model%s", "");
    size_t n = size_t(a->lines * a->slots);
    int count = 0;
    while (count < max_frames && !a->out_queue.empty()) {
        AudioFrame& f = a->out_queue.front();
        times_ps[count] = f.time_fs / FS_PER_PS;
        if (samples && !a->to_design)
            for (size_t i = 0; i < n; i++)
                samples[size_t(count) * n + i] = sign_extend(uint32_t(f.samples[i]), a->sample_bits);
        a->out_queue.pop_front();
        count++;
    }
    return count;
}

// Counters of an audio model: frames, underruns (inputs ran dry), short frames (a frame ended
// before all its bits were clocked).
int sb_audio_stats(void* w, int d, int hook, uint64_t* frames, uint64_t* underruns,
                   uint64_t* short_frames) {
    AudioPort* a = hook_of<AudioPort>(static_cast<World*>(w), d, hook);
    if (!a) return fail("no audio model%s", "");
    *frames = a->frames;
    *underruns = a->underruns;
    *short_frames = a->short_frames;
    return 0;
}

int sb_audio_stop_on_frame(void* w, int d, int hook, int stop) {
    AudioPort* a = hook_of<AudioPort>(static_cast<World*>(w), d, hook);
    if (!a) return fail("no audio model%s", "");
    a->stop_on_frame = stop != 0;
    return 0;
}

uint64_t sb_pin_get(void* w, int d, const char* pin) {
    Device* dev = device_of(static_cast<World*>(w), d);
    Port* p = dev ? dev->model->find(pin) : nullptr;
    return p ? p->get() : ~uint64_t(0);
}

int sb_pin_set(void* w, int d, const char* pin, uint64_t value) {
    Device* dev = device_of(static_cast<World*>(w), d);
    Port* p = dev ? dev->model->find(pin) : nullptr;
    if (!p || !p->input) return fail("no input named %s", pin);
    p->set(value);
    return 0;
}

int sb_trace_open(void* w, int d, const char* path) {
    Device* dev = device_of(static_cast<World*>(w), d);
    if (!dev) return fail("no device%s", "");
    if (!dev->model->trace_open(path))
        return fail("this simulator library was built without waveform support (%s)", path);
    dev->tracing = true;
    return 0;
}

}  // extern "C"
