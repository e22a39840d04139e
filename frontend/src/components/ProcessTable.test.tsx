import { render, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { Process } from '../api/types';
import { ProcessTable } from './ProcessTable';

const proc = (pid: number, name: string | null, mib = 1000 - pid): Process => ({
  pid,
  name,
  usedMemoryMiB: mib,
  user: 'alice',
  type: 'compute',
  smUtilization: null,
  startTime: null,
  container: null,
});

const nameCell = (pid: number): HTMLElement => {
  const row = screen.getAllByRole('row').find((r) => r.firstElementChild?.textContent === String(pid));
  if (!row) throw new Error(`no row for pid ${pid}`);
  return within(row).getAllByRole('cell')[1]!;
};

describe('ProcessTable names', () => {
  it('shows hostile names literally, as text: no element is created from them', () => {
    const names = ['<script>alert(1)</script>', '<img src=x onerror=alert(1)>', 'my job, "v2"'];
    const { container } = render(
      <ProcessTable processes={names.map((n, i) => proc(i + 1, n))} gpuLabel="GPU 0" />,
    );
    names.forEach((n, i) => {
      const cell = nameCell(i + 1);
      expect(cell.textContent).toBe(n); // whole: never cut to "script>"
      expect(cell).toHaveAttribute('title', n);
      expect(cell.children).toHaveLength(0); // a bare text node, nothing parsed
    });
    expect(container.querySelectorAll('script, img')).toHaveLength(0);
    expect(container.innerHTML).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(container.innerHTML).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });

  it('shows the last part of an absolute path, the full path on hover and to screen readers', () => {
    render(
      <ProcessTable
        processes={[proc(1, '/usr/bin/python3.11'), proc(2, '/opt/conda/envs/x/bin/python'), proc(3, '/tmp/<b>x</b>')]}
        gpuLabel="GPU 0"
      />,
    );
    const cell = nameCell(1);
    expect(cell).toHaveAttribute('title', '/usr/bin/python3.11');
    expect(screen.getByRole('cell', { name: '/usr/bin/python3.11' })).toBe(cell);
    const visible = within(cell).getByText('python3.11');
    expect(visible).toHaveAttribute('aria-hidden', 'true');
    expect(screen.getByRole('cell', { name: '/opt/conda/envs/x/bin/python' })).toHaveAttribute(
      'title',
      '/opt/conda/envs/x/bin/python',
    );
    expect(within(nameCell(2)).getByText('python')).toHaveAttribute('aria-hidden', 'true');
    // A path is split on its last "/" only: "</b>" inside the name makes "b>", as text.
    expect(within(nameCell(3)).getByText('b>')).toBeInTheDocument();
    expect(screen.getByRole('cell', { name: '/tmp/<b>x</b>' })).toBe(nameCell(3));
    expect(document.querySelector('b')).toBeNull();
  });

  it('keeps a long name on one line, cut with an ellipsis, the whole of it in the tooltip', () => {
    const long = `/opt/${'very-long-directory-name/'.repeat(8)}${'x'.repeat(60)}`;
    render(<ProcessTable processes={[proc(1, long), proc(2, 'y'.repeat(256))]} gpuLabel="GPU 0" />);
    for (const [pid, full] of [[1, long], [2, 'y'.repeat(256)]] as const) {
      const cell = nameCell(pid);
      expect(cell).toHaveClass('truncate'); // overflow hidden + ellipsis + nowrap, in a table-fixed table
      expect(cell).toHaveAttribute('title', full);
    }
    expect(screen.getByRole('table')).toHaveClass('table-fixed');
    expect(within(nameCell(1)).getByText('x'.repeat(60))).toBeInTheDocument();
  });

  it('shows a dash for a name the source did not report', () => {
    render(<ProcessTable processes={[proc(1, null)]} gpuLabel="GPU 0" />);
    expect(nameCell(1)).toHaveTextContent('—');
    expect(within(nameCell(1)).getByTitle('name not reported')).toBeInTheDocument();
  });
});
