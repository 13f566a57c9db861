using System.Security.Cryptography;
using System.Text;

namespace Uploadista.Events.Redis;

/// <summary>A Lua script and its SHA-1, by which Redis calls it (EVALSHA).</summary>
internal sealed class LuaScript(string text)
{
    /// <summary>Gets the script, for SCRIPT LOAD.</summary>
    public string Text { get; } = text;

#pragma warning disable CA5350 // Redis names scripts by their SHA-1; it is an identifier here, not security.
    /// <summary>Gets the script's SHA-1, for EVALSHA.</summary>
    public byte[] Hash { get; } = SHA1.HashData(Encoding.UTF8.GetBytes(text));
#pragma warning restore CA5350
}
