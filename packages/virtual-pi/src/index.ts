/** @packageDocumentation @bramble/virtual-pi */
export const VERSION = '0.1.0';
