// Simulation-only model of the Gowin DFFP primitive (D flip-flop, rising clock, asynchronous
// preset), which LiteX's AsyncResetSynchronizer lowers to on Gowin devices. Never synthesised.
// Q powers up at INIT, PRESET high forces Q to 1 at once, otherwise Q takes D on the rising
// edge of CLK.

`timescale 1ns / 1ps

module DFFP #(
    parameter [0:0] INIT = 1'b1
) (
    input  wire CLK,
    input  wire D,
    input  wire PRESET,
    output reg  Q
);
    initial Q = INIT;

    always @(posedge CLK or posedge PRESET) begin
        if (PRESET)
            Q <= 1'b1;
        else
            Q <= D;
    end
endmodule
