export * from './netns.js';
export * from './ports.js';
export * from './process.js';
export * from './tools.js';
export * from './dhcp-lan.js';
