// Simulation-only stand-in for the Gowin rPLL primitive (GW1N/GW2A), for the board tops that
// boards/gowin_crg.py builds. Never synthesised: the real primitive comes from the vendor
// library in a build.
//
// It does NOT model frequency multiplication or division: CLKOUT and CLKOUTP are CLKIN passed
// straight through (no phase shift), so the simulated sys clock is whatever the testbench
// drives on the oscillator pin. A testbench that wants the core's timing constants (the
// microsecond prescaler, the wallclock increment) to hold drives the oscillator pin at the
// sys frequency; any other period just scales simulated time. CLKOUTD and CLKOUTD3 (the
// divided outputs) stay low, so a design depending on them fails visibly instead of running at
// a wrong rate.
//
// LOCK falls at once while RESET or RESET_P is high and rises LOCK_CYCLES rising edges of
// CLKIN after both are low, like the real PLL's lock delay (only much shorter).
//
// The parameter list is the primitive's, so any instance LiteX emits elaborates; the values are
// accepted and ignored.

`timescale 1ns / 1ps

module rPLL #(
    parameter FCLKIN = "100.0",
    parameter DYN_IDIV_SEL = "false",
    parameter IDIV_SEL = 0,
    parameter DYN_FBDIV_SEL = "false",
    parameter FBDIV_SEL = 0,
    parameter DYN_ODIV_SEL = "false",
    parameter ODIV_SEL = 8,
    parameter PSDA_SEL = "0000",
    parameter DYN_DA_EN = "false",
    parameter DUTYDA_SEL = "1000",
    parameter CLKOUT_FT_DIR = 1'b1,
    parameter CLKOUTP_FT_DIR = 1'b1,
    parameter CLKOUT_DLY_STEP = 0,
    parameter CLKOUTP_DLY_STEP = 0,
    parameter CLKFB_SEL = "internal",
    parameter CLKOUT_BYPASS = "false",
    parameter CLKOUTP_BYPASS = "false",
    parameter CLKOUTD_BYPASS = "false",
    parameter DYN_SDIV_SEL = 2,
    parameter CLKOUTD_SRC = "CLKOUT",
    parameter CLKOUTD3_SRC = "CLKOUT",
    parameter DEVICE = "GW2A-18C",
    // Not a parameter of the real primitive: the simulated lock delay in CLKIN cycles.
    parameter LOCK_CYCLES = 16
) (
    input  wire       CLKIN,
    input  wire       CLKFB,
    input  wire       RESET,
    input  wire       RESET_P,
    input  wire [5:0] FBDSEL,
    input  wire [5:0] IDSEL,
    input  wire [5:0] ODSEL,
    input  wire [3:0] PSDA,
    input  wire [3:0] FDLY,
    input  wire [3:0] DUTYDA,
    output wire       CLKOUT,
    output wire       CLKOUTP,
    output wire       CLKOUTD,
    output wire       CLKOUTD3,
    output reg        LOCK
);
    assign CLKOUT = CLKIN;
    assign CLKOUTP = CLKIN;
    assign CLKOUTD = 1'b0;
    assign CLKOUTD3 = 1'b0;

    reg [$clog2(LOCK_CYCLES + 1) - 1:0] count = 0;
    initial LOCK = 1'b0;

    always @(posedge CLKIN or posedge RESET or posedge RESET_P) begin
        if (RESET || RESET_P) begin
            count <= 0;
            LOCK <= 1'b0;
        end else if (count != LOCK_CYCLES) begin
            count <= count + 1'b1;
        end else begin
            LOCK <= 1'b1;
        end
    end
endmodule
