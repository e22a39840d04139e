/** How to fix each reason a GPU source gave (keys as in `unavailable`). */
export function fixHint(name: string, reason: string): string {
  const r = reason.toLowerCase();
  if (name === 'nvml') {
    if (r.includes('not installed')) return 'Install the Python package nvidia-ml-py in the gpulens environment.';
    if (r.includes('driver not loaded')) return 'The NVIDIA kernel module is not loaded: reboot after installing the driver, or run `sudo modprobe nvidia`.';
    if (r.includes('mismatch')) return 'The driver was updated but the old kernel module is still loaded: reboot.';
    if (r.includes('permission') || r.includes('insufficient')) return 'Run gpulens as a user that can open /dev/nvidia* (often the video group).';
    return 'Install the NVIDIA driver (it ships libnvidia-ml.so). In a container, run it with `--gpus all` (NVIDIA Container Toolkit).';
  }
  if (name === 'nvidia-smi') {
    if (r.includes('not found') || r.includes('does not exist')) return 'nvidia-smi comes with the NVIDIA driver: install the driver, or point NVIDIA_SMI_PATH at the binary.';
    if (r.includes('no gpu') || r.includes('no devices')) return 'nvidia-smi runs but sees no GPU: check that the card is seated and the driver loaded (`nvidia-smi -L`).';
    return 'Run `nvidia-smi` by hand to see the error it prints.';
  }
  if (name === 'nvtop') {
    if (r.includes('not found') || r.includes('does not exist')) return 'Optional last resort: install nvtop 3.2 or newer (3.3.2+ also reports memory and processes), or set NVTOP_PATH.';
    if (r.includes('snapshot') || r.includes('3.2') || r.includes('old')) return 'This nvtop is too old for `nvtop -s`: upgrade to 3.2.0 or newer (3.3.2+ recommended).';
    return 'Run `nvtop -s` by hand to see what it prints.';
  }
  if (name === 'replay') return 'Check REPLAY_FILE, or unset it to use the shipped demo recording.';
  return 'See the gpulens logs for details.';
}
