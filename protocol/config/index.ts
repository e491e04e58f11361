/** Configuration shared by every process: the layered loader and the running-marketplace file. */
export * from './loader.js';
export * from './running.js';
