namespace Aletheia.Wal.Tests.Support;

/// <summary>Linux: the open flags of this process's descriptors, as the kernel reports them in /proc/self/fdinfo.</summary>
internal static class DescriptorFlags
{
    /// <summary>O_DSYNC.</summary>
    public const int DataSync = 0x1000;

    /// <summary>__O_SYNC: O_SYNC is it plus <see cref="DataSync"/>.</summary>
    public const int SyncOnly = 0x100000;

    /// <summary>The flags of every descriptor of this process on <paramref name="path"/> that is open for writing (O_WRONLY or O_RDWR).</summary>
    public static List<int> Writable(string path)
    {
        var found = new List<int>();
        foreach (string fd in Directory.GetFiles("/proc/self/fd"))
        {
            string? target;
            try
            {
                target = new FileInfo(fd).LinkTarget;
            }
            catch (IOException)
            {
                continue; // closed meanwhile
            }

            if (target != path)
            {
                continue;
            }

            string line = File.ReadAllLines($"/proc/self/fdinfo/{Path.GetFileName(fd)}").Single(l => l.StartsWith("flags:", StringComparison.Ordinal));
            int flags = Convert.ToInt32(line["flags:".Length..].Trim(), 8); // octal
            if ((flags & 0x3) != 0)
            {
                found.Add(flags);
            }
        }

        return found;
    }
}
