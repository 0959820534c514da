using System.Runtime.InteropServices;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Wal;

/// <summary>
/// The mode is exact whatever the umask, which the process shares with every thread: run alone, after the parallel
/// tests, so that no other test creates files under the umask this one sets.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed partial class FileModeUmaskTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [LibraryImport("libc", EntryPoint = "umask")]
    private static partial uint Umask(uint mask);

    [Fact]
    public void A_umask_that_would_take_group_and_other_permissions_away_does_not()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        string directory = _temp.Log();
        const UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead; // 0644
        uint previous = Umask(0x3F); // 077: created with 0644 and 0755 alone, the files would be 0600 and the directory 0700
        try
        {
            using WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory, UnixCreateMode = mode });
            log.AppendDurable(Payloads.Make(1, 1, 100));
            log.TestHookWaitForPreparedSegment();
        }
        finally
        {
            Umask(previous);
        }

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute
            | UnixFileMode.OtherRead | UnixFileMode.OtherExecute, File.GetUnixFileMode(directory));
        string[] files = Directory.GetFiles(directory);
        Assert.Equal(4, files.Length); // segments 1 and 2, wal.head, wal.lock
        foreach (string path in files)
        {
            Assert.True(File.GetUnixFileMode(path) == mode, $"{Path.GetFileName(path)} is created 0644 and set to it: the umask takes nothing away.");
        }
    }
}
