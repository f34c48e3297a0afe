// Stagebox system simulator: the interface between the generic harness (harness.cpp) and one
// compiled design (the generated binding, bind.cpp, which wraps the Verilated model).
//
// The harness never names a design's ports in C++: the binding lists them (name, width, storage)
// and the harness looks up the ones its models need when Python attaches a model. Later blocks
// of the core add ports; the harness does not change.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace stagebox_sim {

// One port of the design: `storage` points into the Verilated model (CData/SData/IData/QData,
// chosen by Verilator from the width). Ports wider than 64 bits are not used by any model.
struct Port {
    std::string name;
    int width = 0;
    int bytes = 0;  // 1, 2, 4 or 8: the C type Verilator gave the port
    bool input = false;
    void* storage = nullptr;

    uint64_t get() const {
        switch (bytes) {
            case 1: return *static_cast<uint8_t*>(storage);
            case 2: return *static_cast<uint16_t*>(storage);
            case 4: return *static_cast<uint32_t*>(storage);
            default: return *static_cast<uint64_t*>(storage);
        }
    }
    void set(uint64_t value) {
        if (width < 64) value &= (uint64_t(1) << width) - 1;
        switch (bytes) {
            case 1: *static_cast<uint8_t*>(storage) = uint8_t(value); break;
            case 2: *static_cast<uint16_t*>(storage) = uint16_t(value); break;
            case 4: *static_cast<uint32_t*>(storage) = uint32_t(value); break;
            default: *static_cast<uint64_t*>(storage) = value; break;
        }
    }
};

// One instance of the compiled design.
class Model {
public:
    virtual ~Model() = default;
    virtual void eval() = 0;
    // Waveforms (only when the library was built with tracing; otherwise these return false).
    virtual bool trace_open(const char* path) { (void)path; return false; }
    virtual void trace_dump(uint64_t time_ps) { (void)time_ps; }
    virtual void trace_close() {}
    // Drive clock input `port` low without evaluating: the model is told its previous level was
    // low too, so no edge is pending. Only valid when no logic is sensitive to the falling
    // edge and no combinational output depends on the clock (the core: posedge-only, inputs
    // registered). Returns false when the binding cannot do it for this port.
    virtual bool quiet_fall(Port* port) { (void)port; return false; }

    std::vector<Port> ports;

    Port* find(const std::string& name) {
        for (auto& port : ports)
            if (port.name == name) return &port;
        return nullptr;
    }
};

}  // namespace stagebox_sim

// Provided by the generated binding.
extern "C" stagebox_sim::Model* stagebox_sim_create_model();
extern "C" const char* stagebox_sim_design_name();
