/**
 * The workspace packages the CLI composes, loaded on first use so that `bramble --help` and the
 * simple commands start fast.
 */

export type {
  CheckProblem,
  LayerOverride,
  NodeLayout,
  NodeSpecInput,
  PruneResult,
  ScratchSpec,
} from '@bramble/boot-tree';
export type { BootNetwork } from '@bramble/dhcp';
export type { BootReport, PiModel } from '@bramble/virtual-pi';

export const loadImage = () => import('@bramble/image');
export const loadBootTree = () => import('@bramble/boot-tree');
export const loadDhcp = () => import('@bramble/dhcp');
export const loadTftp = () => import('@bramble/tftp');
export const loadVirtualPi = () => import('@bramble/virtual-pi');
