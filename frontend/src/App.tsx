import { Dashboard } from './components/Dashboard';
import { useGpuStream } from './stream/useGpuStream';

export function App() {
  const stream = useGpuStream();
  return <Dashboard {...stream} />;
}
