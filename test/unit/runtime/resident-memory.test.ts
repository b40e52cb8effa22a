/**
 * The mapped-files share of the RSS (shoal_process_resident_file_bytes): read from the
 * `RssFile` line the Linux kernel writes in /proc/<pid>/status.
 */
import { describe, expect, it } from 'vitest';
import { residentFileBytes } from '../../../src/runtime/resident-memory.js';

const STATUS = `Name:\tnode
VmRSS:\t 1433600 kB
RssAnon:\t 1230848 kB
RssFile:\t  202240 kB
RssShmem:\t     512 kB
Threads:\t40
`;

describe('residentFileBytes', () => {
  it('reads RssFile in bytes, not RssAnon or VmRSS', () => {
    expect(residentFileBytes(STATUS)).toBe(202_240 * 1024);
  });

  it('is null when the kernel does not report it', () => {
    expect(residentFileBytes('Name:\tnode\nVmRSS:\t 1000 kB\n')).toBeNull();
  });
});
