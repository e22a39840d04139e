import { render, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { NoGpuPanel } from './NoGpuPanel';

const AUTO = {
  nvml: 'NVML Shared Library Not Found',
  'nvidia-smi': 'nvidia-smi: not found on PATH',
  nvtop: 'nvtop: not found on PATH',
};

describe('NoGpuPanel', () => {
  it('auto: says every source was tried, that it keeps retrying, and GPUs appear without a reload', () => {
    render(<NoGpuPanel unavailable={AUTO} />);
    expect(screen.getByRole('heading', { level: 2 })).toHaveTextContent('No GPU source found');
    const why = screen.getByTestId('no-gpu-why');
    expect(why).toHaveTextContent('gpulens tried every GPU source on this machine and none answered.');
    expect(why).toHaveTextContent('It keeps retrying, and GPUs appear here as soon as one answers, without a reload.');
    expect(why).not.toHaveTextContent('TELEMETRY_PROVIDER');
    expect(screen.getAllByRole('listitem')).toHaveLength(3);
  });

  it('one configured source not answering yet: names it, never claims every source was tried', () => {
    render(<NoGpuPanel unavailable={{ nvml: 'NVML: Driver Not Loaded' }} />);
    expect(screen.getByRole('heading', { level: 2 })).toHaveTextContent('NVML is not answering yet');
    const why = screen.getByTestId('no-gpu-why');
    expect(why).toHaveTextContent(
      'gpulens is set to use only NVML (TELEMETRY_PROVIDER=nvml), and it has not answered yet: the driver may still be loading.',
    );
    expect(why).toHaveTextContent('It keeps retrying, and GPUs appear here as soon as it answers, without a reload.');
    expect(why).not.toHaveTextContent('every GPU source');
    expect(within(why).getByText('TELEMETRY_PROVIDER=nvml').tagName).toBe('CODE');
    const item = screen.getAllByRole('listitem')[0]!;
    expect(item).toHaveTextContent('NVML: Driver Not Loaded');
    expect(item).toHaveTextContent('modprobe nvidia');
    // The hint's command is code, without the backticks it is written with.
    expect(within(item).getByText('sudo modprobe nvidia').tagName).toBe('CODE');
    expect(item.textContent).not.toContain('`');
  });

  it('a configured replay that is not there: no talk of drivers', () => {
    render(<NoGpuPanel unavailable={{ replay: 'replay: /data/x.jsonl: No such file or directory' }} />);
    expect(screen.getByRole('heading', { level: 2 })).toHaveTextContent('REPLAY is not answering yet');
    expect(screen.getByTestId('no-gpu-why')).not.toHaveTextContent('driver');
  });

  it('tells how to see the recorded demo, with the commands as code', () => {
    render(<NoGpuPanel unavailable={AUTO} />);
    const demo = screen.getByTestId('no-gpu-demo');
    expect(demo).toHaveTextContent(
      'To try gpulens without a GPU, run make demo from a checkout or TELEMETRY_PROVIDER=replay gpulens serve.',
    );
    expect(within(demo).getByText('make demo').tagName).toBe('CODE');
    expect(within(demo).getByText('TELEMETRY_PROVIDER=replay gpulens serve').tagName).toBe('CODE');
  });

  it('shows a very long reason whole, wrapping inside its box', () => {
    const reason = `nvml: ${'x'.repeat(400)}`;
    render(<NoGpuPanel unavailable={{ nvml: reason }} />);
    const text = screen.getByText(reason);
    expect(text).toHaveClass('wrap-anywhere');
  });
});
