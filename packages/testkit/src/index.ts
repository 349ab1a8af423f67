export * from './dhcp-lan.js';
export * from './dnsmasq-lan.js';
export * from './netns.js';
export * from './pi-boot-files.js';
export * from './ports.js';
export * from './process.js';
export * from './qemu.js';
export * from './tools.js';
