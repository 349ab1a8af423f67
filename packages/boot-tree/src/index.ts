/** @packageDocumentation @bramble/boot-tree */
export const VERSION = '0.1.0';
