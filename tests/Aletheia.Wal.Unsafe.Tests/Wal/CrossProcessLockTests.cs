using System.Diagnostics;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Wal;

public sealed class CrossProcessLockTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void A_writer_in_another_process_holds_the_directory()
    {
        using Process worker = WorkerProcess.Start("hold-lock", _temp.Log());
        Assert.Equal("open", WorkerProcess.ReadLine(worker));
        var e = Assert.Throws<WalException>(() => WriteAheadLog.Open(new WalOptions { Directory = _temp.Log(), SegmentSizeBytes = 1 << 20 }));
        Assert.Contains("locked", e.Message, StringComparison.Ordinal);
        worker.StandardInput.WriteLine("release");
        Assert.True(worker.WaitForExit(30_000));
        Assert.Equal(0, worker.ExitCode);

        // Released: this process can open it now.
        using WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = _temp.Log(), SegmentSizeBytes = 1 << 20 });
    }

    [Fact]
    public void Another_process_cannot_open_a_directory_this_process_holds()
    {
        using WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = _temp.Log(), SegmentSizeBytes = 1 << 20 });
        using Process worker = WorkerProcess.Start("hold-lock", _temp.Log());
        Assert.True(worker.WaitForExit(30_000), "The worker gives up at once when the lock is held.");
        Assert.Equal(3, worker.ExitCode);
    }
}
